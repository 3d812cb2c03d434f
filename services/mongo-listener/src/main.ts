import { MongoClient } from 'mongodb';
import { FileCheckpointStore } from './checkpoint-store.ts';
import { loadConfig } from './config.ts';
import { startHttp } from './http.ts';
import { type Log, MessageListener } from './listener.ts';
import { listenerMetrics } from './metrics.ts';
import { pubsubPublisher } from './publisher.ts';

/** The service: the listener over the official driver and Pub/Sub client, with its HTTP endpoints. */
const log: Log = (level, message, fields = {}) => {
  console.log(JSON.stringify({ level, time: new Date().toISOString(), message, ...fields }));
};

const config = loadConfig(process.env);
const client = new MongoClient(config.mongoUrl, { appName: 'mongo-listener' });
await client.connect();
const metrics = listenerMetrics();
const publisher = pubsubPublisher({
  projectId: config.projectId,
  topic: config.topic,
  ...(config.pubsubEndpoint ? { apiEndpoint: config.pubsubEndpoint } : {}),
  ...(config.pubsubAccessToken ? { accessToken: config.pubsubAccessToken } : {}),
  timeoutMs: config.publishTimeoutMs,
});
const listener = new MessageListener({
  collection: client.db(config.database).collection(config.collection) as never,
  publisher,
  checkpoints: new FileCheckpointStore(config.checkpointPath),
  metrics,
  log,
  skipUsers: config.skipUsers,
  alert: async (text) => {
    if (!config.alertWebhookUrl) return;
    const r = await fetch(config.alertWebhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text }),
      signal: AbortSignal.timeout(10_000),
    });
    if (!r.ok) throw new Error(`alert webhook answered ${r.status}`);
  },
});
const http = await startHttp(config.httpPort, () => listener.healthy, metrics.registry);
log('info', 'mongo-listener: started', {
  port: http.port,
  collection: `${config.database}.${config.collection}`,
  topic: config.topic,
});

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  log('info', `mongo-listener: ${signal}, stopping`);
  await listener.stop();
  await publisher.close();
  await client.close();
  await http.close();
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
void listener.start().catch((err: Error) => {
  log('error', 'mongo-listener: stopped on an error', { error: err.message });
  process.exit(1);
});

import { FileCheckpointStore } from './checkpoint-store.ts';
import type { ListenerConfig } from './config.ts';
import { startHttp } from './http.ts';
import { type Log, type MessageCollection, MessageListener } from './listener.ts';
import { listenerMetrics } from './metrics.ts';
import { pubsubPublisher } from './publisher.ts';

/** Structured log lines (one JSON object per line). */
export const jsonLog: Log = (level, message, fields = {}) => {
  console.log(JSON.stringify({ level, time: new Date().toISOString(), message, ...fields }));
};

/**
 * The running service around a collection: the listener, its Pub/Sub publisher, `/healthz` and
 * `/metrics`, and a graceful stop on SIGTERM/SIGINT (the event in hand is published and
 * checkpointed, Pub/Sub flushed, connections closed). `main.ts` gives it the driver's collection.
 */
export async function runService(
  config: ListenerConfig,
  collection: MessageCollection,
  closeCollection: () => Promise<void>,
): Promise<void> {
  const metrics = listenerMetrics();
  const publisher = pubsubPublisher({
    projectId: config.projectId,
    topic: config.topic,
    ...(config.pubsubEndpoint ? { apiEndpoint: config.pubsubEndpoint } : {}),
    ...(config.pubsubAccessToken ? { accessToken: config.pubsubAccessToken } : {}),
    timeoutMs: config.publishTimeoutMs,
  });
  const listener = new MessageListener({
    collection,
    publisher,
    checkpoints: new FileCheckpointStore(config.checkpointPath),
    metrics,
    log: jsonLog,
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
  jsonLog('info', 'mongo-listener: started', {
    port: http.port,
    collection: `${config.database}.${config.collection}`,
    topic: config.topic,
  });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    jsonLog('info', `mongo-listener: ${signal}, stopping`);
    await listener.stop();
    await publisher.close();
    await closeCollection();
    await http.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  await listener.start().catch((err: Error) => {
    jsonLog('error', 'mongo-listener: stopped on an error', { error: err.message });
    process.exit(1);
  });
}

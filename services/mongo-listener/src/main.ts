import { MongoClient } from 'mongodb';
import { loadConfig } from './config.ts';
import type { MessageCollection } from './listener.ts';
import { runService } from './service.ts';

// The service over the official driver: `collection.watch([...], {fullDocument: 'updateLookup', resumeAfter})`.
const config = loadConfig(process.env);
const client = new MongoClient(config.mongoUrl, {
  appName: 'mongo-listener',
  ...(config.mongoUsername ? { auth: { username: config.mongoUsername, password: config.mongoPassword ?? '' } } : {}),
});
await client.connect();
const collection = client.db(config.database).collection(config.collection) as unknown as MessageCollection;
await runService(config, collection, () => client.close());

import { createServer } from 'node:net';
import { FirestoreServer } from '@firestore-emulator/server';
import { Firestore } from '@google-cloud/firestore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FirestoreStateStore } from './firestore-store.ts';
import { emptyState, type StateData } from './types.ts';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

describe('FirestoreStateStore against @firestore-emulator/server', () => {
  let server: FirestoreServer;
  let port: number;
  const clients: Firestore[] = [];
  const client = () => {
    const db = new Firestore({
      projectId: 'keelson-test',
      host: `127.0.0.1:${port}`,
      ssl: false,
      customHeaders: { Authorization: 'Bearer owner' },
    });
    clients.push(db);
    return db;
  };

  beforeAll(async () => {
    port = await freePort();
    server = new FirestoreServer();
    await server.start(port);
  });

  afterAll(async () => {
    for (const db of clients) await db.terminate().catch(() => undefined);
    server?.stop();
  });

  it('starts empty, and what is saved is what a new client loads', async () => {
    const store = new FirestoreStateStore(client(), 'keelson-state', 'owner-a');
    expect(await store.load()).toEqual(emptyState());
    const data: StateData = {
      ...emptyState(),
      journal: {
        'swarm.Service/web': {
          key: 'swarm.Service/web',
          kind: 'swarm.Service',
          name: 'web',
          state: 'creating',
          revision: 'abc',
          at: '2026-01-01T00:00:00.000Z',
        },
      },
      drift: {
        'swarm.Service/web': {
          key: 'swarm.Service/web',
          fingerprint: 'f1',
          observations: 2,
          firstSeen: 'a',
          lastSeen: 'b',
          fields: ['replicas'],
          policy: 'observe',
          alertedAt: 'b',
        },
      },
    };
    await store.save(data);
    const again = new FirestoreStateStore(client(), 'keelson-state', 'owner-a');
    expect(await again.load()).toEqual(data);
  });

  it('keeps two owners apart', async () => {
    const a = new FirestoreStateStore(client(), 'keelson-state', 'owner-b');
    const b = new FirestoreStateStore(client(), 'keelson-state', 'owner-c');
    await a.save({
      ...emptyState(),
      runs: [{ revision: 'r1', startedAt: 'x', durationMs: 1, result: 'success', summary: 's' }],
    });
    expect((await b.load()).runs).toEqual([]);
    expect((await a.load()).runs).toHaveLength(1);
  });

  it('stores a state larger than one Firestore document in chunks, and shrinks back', async () => {
    const store = new FirestoreStateStore(client(), 'keelson-state', 'owner-big');
    const big: StateData = { ...emptyState(), inventory: {} };
    // About 2 MB of inventory: more than a 1 MiB document can hold, so it needs three chunks.
    for (let i = 0; i < 8000; i++) {
      big.inventory[`cloudflare.R2Bucket/b${i}`] = {
        key: `cloudflare.R2Bucket/b${i}`,
        kind: 'cloudflare.R2Bucket',
        id: `id-${i}`,
        data: { pad: 'x'.repeat(200) },
      };
    }
    await store.save(big);
    const reader = new FirestoreStateStore(client(), 'keelson-state', 'owner-big');
    expect(Object.keys((await reader.load()).inventory)).toHaveLength(8000);
    await reader.save(emptyState());
    expect(await new FirestoreStateStore(client(), 'keelson-state', 'owner-big').load()).toEqual(emptyState());
  });
});

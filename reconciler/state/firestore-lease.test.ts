import { createServer } from 'node:net';
import { FirestoreServer } from '@firestore-emulator/server';
import { Firestore } from '@google-cloud/firestore';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FirestoreLease } from './firestore-lease.ts';

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

describe('FirestoreLease against @firestore-emulator/server', () => {
  let server: FirestoreServer;
  let port: number;
  const clients: Firestore[] = [];
  const lease = (owner = 'keelson') => {
    const db = new Firestore({
      projectId: 'keelson-test',
      host: `127.0.0.1:${port}`,
      ssl: false,
      customHeaders: { Authorization: 'Bearer owner' },
    });
    clients.push(db);
    return new FirestoreLease(db, 'keelson-state', owner);
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

  it('grants the lease to one holder, renews it, hands it over after expiry and on release', async () => {
    const [a, b] = [lease('o1'), lease('o1')];
    expect(await a.claim('a', 1_000, 15_000)).toEqual({
      acquired: true,
      lease: { holder: 'a', generation: 1, expiresAt: 16_000 },
    });
    expect(await b.claim('b', 2_000, 15_000)).toMatchObject({ acquired: false, lease: { holder: 'a' } });
    expect((await a.claim('a', 6_000, 15_000)).lease).toEqual({ holder: 'a', generation: 1, expiresAt: 21_000 });
    expect(await b.claim('b', 21_000, 15_000)).toMatchObject({ acquired: true, lease: { holder: 'b', generation: 2 } });
    await b.release('b', 2);
    expect(await a.claim('a', 22_000, 15_000)).toMatchObject({ acquired: true, lease: { holder: 'a', generation: 3 } });
    expect(await b.read()).toEqual({ holder: 'a', generation: 3, expiresAt: 37_000 });
  });

  it('keeps the unhealthy mark of a holder whose engine is gone, and lets a healthy claimant take that lease at once', async () => {
    const [a, b] = [lease('o3'), lease('o3')];
    await a.claim('a', 1_000, 15_000);
    expect((await a.claim('a', 6_000, 15_000, false)).lease).toEqual({
      holder: 'a',
      generation: 1,
      expiresAt: 21_000,
      unhealthy: true,
    });
    expect(await b.claim('b', 7_000, 15_000, false)).toMatchObject({ acquired: false, lease: { holder: 'a' } });
    expect(await b.claim('b', 7_000, 15_000)).toEqual({
      acquired: true,
      lease: { holder: 'b', generation: 2, expiresAt: 22_000 },
    });
    expect(await a.read()).toEqual({ holder: 'b', generation: 2, expiresAt: 22_000 });
  });

  // This emulator does not isolate transactions (it hands out a dummy transaction id), so only the
  // first claim's race is tested here: the lease document is created with a must-not-exist
  // precondition, which it does enforce. Races on later claims rely on Firestore's transactions.
  it('lets exactly one of several replicas making the first claim at once win', async () => {
    const replicas = ['a', 'b', 'c'].map(() => lease('o2'));
    const claims = await Promise.allSettled(replicas.map((r, i) => r.claim(`r${i}`, 1_000, 15_000)));
    expect(claims.filter((c) => c.status === 'fulfilled' && c.value.acquired)).toHaveLength(1);
    expect((await replicas[0]?.read())?.generation).toBe(1);
  });
});

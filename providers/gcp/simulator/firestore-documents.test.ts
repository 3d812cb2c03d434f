import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upsertDocument } from '../../../workers/shared/firestore-rest.ts';
import { contractProblems } from './contract-check.ts';
import { type Exchange, type GcpSimulator, startGcpSimulator } from './server.ts';
import { clientOptions, google } from './test-clients.ts';

type QueryRow = { document: { name: string } };

describe('Firestore documents over REST', () => {
  let sim: GcpSimulator;
  let base: string;
  const h = () => ({ authorization: `Bearer ${sim.env.GCP_ACCESS_TOKEN}`, 'content-type': 'application/json' });
  const call = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${base}${path}`, {
      method,
      headers: h(),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    // biome-ignore lint/suspicious/noExplicitAny: the test reads API answers of many shapes.
    return { status: r.status, body: (await r.json()) as Record<string, any> };
  };
  const exchanges: Exchange[] = [];
  beforeAll(async () => {
    sim = await startGcpSimulator({ runFunctions: false, onExchange: (e) => exchanges.push(e) });
    base = `${sim.url}/v1/projects/${sim.projectId}/databases/(default)/documents`;
  });
  afterAll(() => sim.close());

  it("takes the Workers' upsert (workers/shared/firestore-rest.ts) with a base URL", async () => {
    const res = await upsertDocument(
      { baseUrl: sim.url, projectId: sim.projectId, accessToken: sim.env.GCP_ACCESS_TOKEN },
      'calls',
      'c1',
      { from: '+49 30 1', duration: 42, tags: ['a'], at: new Date('2026-01-05T08:00:00Z') },
    );
    expect(res.status).toBe(200);
    const got = await call('GET', '/calls/c1');
    expect(got.body.fields.duration).toEqual({ integerValue: '42' });
    expect(got.body.name).toBe(`projects/${sim.projectId}/databases/(default)/documents/calls/c1`);
  });

  it('create with documentId answers 409 the second time; patch with updateMask and preconditions', async () => {
    const created = await call('POST', '/calls?documentId=c2', {
      fields: { status: { stringValue: 'new' }, n: { integerValue: '1' } },
    });
    expect(created.status).toBe(200);
    expect((await call('POST', '/calls?documentId=c2', { fields: {} })).status).toBe(409);
    const stale = await call(
      'PATCH',
      `/calls/c2?updateMask.fieldPaths=status&currentDocument.updateTime=2020-01-01T00:00:00.000000Z`,
      {
        fields: { status: { stringValue: 'x' } },
      },
    );
    expect(stale.status).toBe(400);
    expect(stale.body.error.status).toBe('FAILED_PRECONDITION');
    const patched = await call(
      'PATCH',
      `/calls/c2?updateMask.fieldPaths=status&currentDocument.updateTime=${created.body.updateTime}`,
      {
        fields: { status: { stringValue: 'done' } },
      },
    );
    expect(patched.status).toBe(200);
    expect(patched.body.fields).toEqual({ status: { stringValue: 'done' }, n: { integerValue: '1' } });
    expect((await call('PATCH', '/calls/missing?currentDocument.exists=true', { fields: {} })).status).toBe(404);
  });

  it('runQuery filters and orders one collection; a query needing a composite index fails until it is READY', async () => {
    for (const [id, status, n] of [
      ['q1', 'open', 3],
      ['q2', 'open', 1],
      ['q3', 'closed', 2],
    ] as const) {
      await call('PATCH', `/tickets/${id}`, {
        fields: { status: { stringValue: status }, n: { integerValue: String(n) } },
      });
    }
    const simple = await call('POST', ':runQuery', {
      structuredQuery: {
        from: [{ collectionId: 'tickets' }],
        orderBy: [{ field: { fieldPath: 'n' }, direction: 'DESCENDING' }],
        limit: 2,
      },
    });
    expect((simple.body as unknown as QueryRow[]).map((r) => r.document.name.split('/').at(-1))).toEqual(['q1', 'q3']);
    const composite = {
      structuredQuery: {
        from: [{ collectionId: 'tickets' }],
        where: { fieldFilter: { field: { fieldPath: 'status' }, op: 'EQUAL', value: { stringValue: 'open' } } },
        orderBy: [{ field: { fieldPath: 'n' }, direction: 'ASCENDING' }],
      },
    };
    const refused = await call('POST', ':runQuery', composite);
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toMatch(/requires an index.*status ASCENDING, n ASCENDING/);
    const admin = `${sim.url}/v1/projects/${sim.projectId}/databases/(default)/collectionGroups/tickets/indexes`;
    const op = await fetch(admin, {
      method: 'POST',
      headers: h(),
      body: JSON.stringify({
        queryScope: 'COLLECTION',
        fields: [
          { fieldPath: 'status', order: 'ASCENDING' },
          { fieldPath: 'n', order: 'ASCENDING' },
        ],
      }),
    });
    expect(op.status).toBe(200);
    await sim.settleOperations();
    const served = await call('POST', ':runQuery', composite);
    expect((served.body as unknown as QueryRow[]).map((r) => r.document.name.split('/').at(-1))).toEqual(['q2', 'q1']);
  });

  it('commit is atomic and applies transforms; a transaction aborts when what it read changed', async () => {
    const name = (p: string) => `projects/${sim.projectId}/databases/(default)/documents/${p}`;
    const failed = await call('POST', ':commit', {
      writes: [
        { update: { name: name('counters/a'), fields: { v: { integerValue: '1' } } } },
        { update: { name: name('counters/b'), fields: {} }, currentDocument: { exists: true } },
      ],
    });
    expect(failed.status).toBe(404);
    expect((await call('GET', '/counters/a')).status).toBe(404);
    const ok = await call('POST', ':commit', {
      writes: [
        {
          update: { name: name('counters/a'), fields: { v: { integerValue: '1' } } },
          updateTransforms: [{ fieldPath: 'at', setToServerValue: 'REQUEST_TIME' }],
        },
      ],
    });
    expect(ok.status).toBe(200);
    await call('POST', ':commit', {
      writes: [
        {
          transform: {
            document: name('counters/a'),
            fieldTransforms: [{ fieldPath: 'v', increment: { integerValue: '5' } }],
          },
        },
      ],
    });
    expect((await call('GET', '/counters/a')).body.fields.v).toEqual({ integerValue: '6' });
    const tx = (await call('POST', ':beginTransaction', {})).body.transaction as string;
    await call('GET', `/counters/a?transaction=${encodeURIComponent(tx)}`);
    await call('PATCH', '/counters/a', { fields: { v: { integerValue: '7' } } });
    const aborted = await call('POST', ':commit', {
      transaction: tx,
      writes: [{ update: { name: name('counters/a'), fields: { v: { integerValue: '8' } } } }],
    });
    expect(aborted.status).toBe(409);
    expect(aborted.body.error.status).toBe('ABORTED');
  });

  it('runs collection-group queries and queries below a parent document', async () => {
    for (const p of ['users/u1/sessions/s1', 'users/u2/sessions/s2', 'sessions/s3', 'users/u1/other/o1']) {
      await call('PATCH', `/${p}`, { fields: { p: { stringValue: p } } });
    }
    const group = await call('POST', ':runQuery', {
      structuredQuery: { from: [{ collectionId: 'sessions', allDescendants: true }] },
    });
    expect((group.body as unknown as QueryRow[]).map((r) => r.document.name.split('/documents/')[1])).toEqual([
      'sessions/s3',
      'users/u1/sessions/s1',
      'users/u2/sessions/s2',
    ]);
    const below = await call('POST', '/users/u1:runQuery', {
      structuredQuery: { from: [{ collectionId: 'sessions' }] },
    });
    expect((below.body as unknown as QueryRow[]).map((r) => r.document.name.split('/documents/')[1])).toEqual([
      'users/u1/sessions/s1',
    ]);
    const ids = await call('POST', '/users/u1:listCollectionIds', {});
    expect(ids.body.collectionIds).toEqual(['other', 'sessions']);
  });

  it('lists with pageToken and refuses a missing database', async () => {
    for (let i = 0; i < 5; i++) await call('PATCH', `/paged/d${i}`, { fields: { i: { integerValue: String(i) } } });
    const first = await call('GET', '/paged?pageSize=2');
    expect(first.body.documents).toHaveLength(2);
    const second = await call('GET', `/paged?pageSize=2&pageToken=${first.body.nextPageToken}`);
    expect(second.body.documents.map((d: { name: string }) => d.name.split('/').at(-1))).toEqual(['d2', 'd3']);
    const r = await fetch(`${sim.url}/v1/projects/${sim.projectId}/databases/other/documents/a/b`, { headers: h() });
    expect(r.status).toBe(404);
  });

  it('every answer above fits the discovery document and the client descriptors', () => {
    const { discovery, problems } = contractProblems(exchanges);
    console.log(`checked ${discovery} Firestore document answers against the discovery document`);
    expect(problems).toEqual([]);
  });
});

describe('Firestore TTL policies', () => {
  it('delete documents whose TTL field has passed, on the clock', async () => {
    const { FakeClock } = await import('./clock.ts');
    const clock = new FakeClock(Date.UTC(2026, 0, 5, 8, 0, 0));
    const sim = await startGcpSimulator({ runFunctions: false, clock });
    try {
      const h = { authorization: `Bearer ${sim.env.GCP_ACCESS_TOKEN}`, 'content-type': 'application/json' };
      const db = `${sim.url}/v1/projects/${sim.projectId}/databases/(default)`;
      const op = await fetch(`${db}/collectionGroups/sessions/fields/expiresAt?updateMask=ttlConfig`, {
        method: 'PATCH',
        headers: h,
        body: JSON.stringify({ ttlConfig: {} }),
      });
      expect(op.status).toBe(200);
      await sim.settleOperations();
      const put = (path: string, at: string) =>
        fetch(`${db}/documents/${path}`, {
          method: 'PATCH',
          headers: h,
          body: JSON.stringify({ fields: { expiresAt: { timestampValue: at } } }),
        });
      await put('sessions/old', '2026-01-05T08:30:00Z');
      await put('sessions/new', '2026-01-06T08:30:00Z');
      await put('users/u1/sessions/nested', '2026-01-05T08:10:00Z');
      await put('other/old', '2026-01-05T08:10:00Z');
      expect(await sim.sweepTtl()).toBe(0);
      await sim.advance(3_600_000);
      const status = async (p: string) => (await fetch(`${db}/documents/${p}`, { headers: h })).status;
      expect([
        await status('sessions/old'),
        await status('users/u1/sessions/nested'),
        await status('sessions/new'),
        await status('other/old'),
      ]).toEqual([404, 404, 200, 200]);
    } finally {
      await sim.close();
    }
  });
});

describe('the Firestore SDK (@google-cloud/firestore) in REST mode', () => {
  it('sets, gets, queries, transacts and uses field transforms', async () => {
    const sim = await startGcpSimulator({ runFunctions: false });
    try {
      const { Firestore, FieldValue } = google.firestore();
      const o = clientOptions(sim);
      const db = new Firestore({
        projectId: sim.projectId,
        preferRest: true,
        host: '127.0.0.1',
        port: o.port,
        ssl: false,
        authClient: o.authClient,
      } as never);
      const ref = db.collection('calls').doc('c1');
      await ref.set({ n: 1, at: new Date('2026-01-05T08:00:00Z'), nested: { who: 'ana' }, tags: ['a'] });
      expect((await ref.get()).data()).toMatchObject({ n: 1, nested: { who: 'ana' }, tags: ['a'] });
      await db.collection('calls').doc('c2').set({ n: 5 });
      const q = await db.collection('calls').where('n', '>', 2).get();
      expect(q.docs.map((d) => d.id)).toEqual(['c2']);
      await db.runTransaction(async (t) => {
        const snap = await t.get(ref);
        t.update(ref, {
          n: (snap.get('n') as number) + 1,
          seen: FieldValue.serverTimestamp(),
          tags: FieldValue.arrayUnion('b'),
        });
      });
      await ref.update({ n: FieldValue.increment(10) });
      const after = (await ref.get()).data()!;
      expect(after.n).toBe(12);
      expect(after.tags).toEqual(['a', 'b']);
      expect(after.seen).toBeInstanceOf(google.firestore().Timestamp);
      await ref.delete();
      expect((await ref.get()).exists).toBe(false);
      await db.terminate();
    } finally {
      await sim.close();
    }
  });
});

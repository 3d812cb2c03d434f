import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from './clock.ts';
import { contractProblems } from './contract-check.ts';
import { type Exchange, type GcpSimulator, startGcpSimulator } from './server.ts';
import { clientOptions, google } from './test-clients.ts';

describe('Pub/Sub through @google-cloud/pubsub in REST mode', () => {
  let sim: GcpSimulator;
  const clock = new FakeClock();
  beforeAll(async () => {
    sim = await startGcpSimulator({ clock });
  });
  afterAll(() => sim.close());

  const pubsub = () => {
    const { PubSub } = google.pubsub();
    const o = clientOptions(sim);
    return new PubSub({ ...o, apiEndpoint: `127.0.0.1:${o.port}`, projectId: sim.projectId });
  };

  it('creates a topic with PUT, answers 409 for the second create and lists it', async () => {
    const ps = pubsub();
    const [topic] = await ps.createTopic({ name: 'chat', labels: { 'keelson-owner': 'x' } });
    expect(topic.name).toBe(`projects/${sim.projectId}/topics/chat`);
    await expect(ps.createTopic('chat')).rejects.toMatchObject({ code: 6 });
    const [topics] = await ps.getTopics();
    expect(topics.map((t) => t.name)).toContain(`projects/${sim.projectId}/topics/chat`);
    const [meta] = await ps.topic('chat').getMetadata();
    expect(meta.labels).toEqual({ 'keelson-owner': 'x' });
    await expect(ps.topic('nope').getMetadata()).rejects.toMatchObject({ code: 5 });
  });

  it('publishes and pulls, and redelivers after the ack deadline', async () => {
    const ps = pubsub();
    await ps.topic('chat').createSubscription('pull-1', { ackDeadlineSeconds: 20 });
    const id = await ps.topic('chat').publishMessage({ data: Buffer.from('hello'), attributes: { a: '1' } });
    expect(id).toMatch(/^\d+$/);
    const sub = google.pubsub().v1.SubscriberClient;
    const client = new sub(clientOptions(sim));
    const name = `projects/${sim.projectId}/subscriptions/pull-1`;
    const [first] = await client.pull({ subscription: name, maxMessages: 10 });
    expect(first.receivedMessages).toHaveLength(1);
    expect(Buffer.from(first.receivedMessages![0]!.message!.data as Uint8Array).toString()).toBe('hello');
    const [none] = await client.pull({ subscription: name, maxMessages: 10 });
    expect(none.receivedMessages ?? []).toHaveLength(0);
    await clock.advance(21_000);
    const [again] = await client.pull({ subscription: name, maxMessages: 10 });
    expect(again.receivedMessages).toHaveLength(1);
    await client.acknowledge({ subscription: name, ackIds: [again.receivedMessages![0]!.ackId!] });
    await clock.advance(60_000);
    const [after] = await client.pull({ subscription: name, maxMessages: 10 });
    expect(after.receivedMessages ?? []).toHaveLength(0);
  });

  it('drops a message nobody pulled once it is older than the retention', async () => {
    const ps = pubsub();
    await ps.topic('chat').createSubscription('short-retention', { messageRetentionDuration: 600 });
    await ps.topic('chat').createSubscription('long-retention');
    await ps.topic('chat').publishMessage({ data: Buffer.from('stale') });
    const client = new (google.pubsub().v1.SubscriberClient)(clientOptions(sim));
    await clock.advance(601_000);
    const pull = async (name: string) =>
      (await client.pull({ subscription: `projects/${sim.projectId}/subscriptions/${name}`, maxMessages: 10 }))[0]
        .receivedMessages ?? [];
    expect(await pull('short-retention')).toHaveLength(0);
    expect(await pull('long-retention')).toHaveLength(1);
  });
});

describe('Pub/Sub push delivery, retry, dead-lettering and ordering (fake clock)', () => {
  let sim: GcpSimulator;
  const clock = new FakeClock();
  let server: import('node:http').Server;
  let endpoint: string;
  type PushBody = { message: { data: string; attributes: Record<string, string> }; deliveryAttempt?: number };
  const received: { body: PushBody; auth: string | undefined }[] = [];
  let answer = (_body: PushBody): number => 204;
  /** Real milliseconds the endpoint takes to answer. */
  let slowMs = 0;
  const exchanges: Exchange[] = [];
  beforeAll(async () => {
    sim = await startGcpSimulator({ clock, runFunctions: false, onExchange: (e) => exchanges.push(e) });
    const { createServer } = await import('node:http');
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString());
        received.push({ body, auth: req.headers.authorization });
        setTimeout(() => res.writeHead(answer(body)).end(), slowMs);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}/push`;
  });
  afterAll(async () => {
    await sim.close();
    server.close();
  });
  const h = () => ({ authorization: `Bearer ${sim.env.GCP_ACCESS_TOKEN}`, 'content-type': 'application/json' });
  const put = (path: string, body: unknown) =>
    fetch(`${sim.url}/v1/projects/${sim.projectId}/${path}`, {
      method: 'PUT',
      headers: h(),
      body: JSON.stringify(body),
    });
  const publish = (topic: string, messages: unknown[]) =>
    fetch(`${sim.url}/v1/projects/${sim.projectId}/topics/${topic}:publish`, {
      method: 'POST',
      headers: h(),
      body: JSON.stringify({ messages }),
    });
  const P = () => `projects/${sim.projectId}`;

  it('pushes with a verifiable OIDC token, redelivers with backoff after a 500, then dead-letters', async () => {
    const { createRemoteJWKSet, jwtVerify } = await import('jose');
    await put('topics/events', {});
    const refused = await put('subscriptions/events-push', {
      topic: `${P()}/topics/events`,
      pushConfig: {
        pushEndpoint: endpoint,
        oidcToken: { serviceAccountEmail: `push-sa@${sim.projectId}.iam.gserviceaccount.com` },
      },
    });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain(
      `Service account push-sa@${sim.projectId}.iam.gserviceaccount.com does not exist.`,
    );
    await fetch(`${sim.url}/v1/${P()}/serviceAccounts`, {
      method: 'POST',
      headers: h(),
      body: JSON.stringify({ accountId: 'push-sa' }),
    });
    await put('topics/events-dead', {});
    await put('subscriptions/events-dead-pull', { topic: `${P()}/topics/events-dead` });
    await put('subscriptions/events-push', {
      topic: `${P()}/topics/events`,
      pushConfig: {
        pushEndpoint: endpoint,
        oidcToken: { serviceAccountEmail: `push-sa@${sim.projectId}.iam.gserviceaccount.com`, audience: 'events' },
      },
      retryPolicy: { minimumBackoff: '10s', maximumBackoff: '60s' },
      deadLetterPolicy: { deadLetterTopic: `${P()}/topics/events-dead`, maxDeliveryAttempts: 5 },
    });
    answer = () => 500;
    received.length = 0;
    await publish('events', [{ data: Buffer.from('x').toString('base64'), attributes: { kind: 'call' } }]);
    await sim.advance(0);
    expect(received).toHaveLength(1);
    const { payload } = await jwtVerify(
      received[0]!.auth!.slice(7),
      createRemoteJWKSet(new URL(sim.env.GCP_OIDC_JWKS_URL!)),
      {
        issuer: 'https://accounts.google.com',
        audience: 'events',
      },
    );
    expect(payload.email).toBe(`push-sa@${sim.projectId}.iam.gserviceaccount.com`);
    expect(received[0]!.body.message.attributes).toEqual({ kind: 'call' });
    expect(received[0]!.body.deliveryAttempt).toBe(1);
    await sim.advance(9_000);
    expect(received).toHaveLength(1);
    await sim.advance(1_000);
    expect(received).toHaveLength(2);
    await sim.advance(20_000);
    await sim.advance(40_000);
    await sim.advance(60_000);
    expect(received.map((r) => r.body.deliveryAttempt)).toEqual([1, 2, 3, 4, 5]);
    const pulled = await fetch(`${sim.url}/v1/${P()}/subscriptions/events-dead-pull:pull`, {
      method: 'POST',
      headers: h(),
      body: JSON.stringify({ maxMessages: 5 }),
    });
    const dead = ((await pulled.json()) as { receivedMessages: { message: { attributes: Record<string, string> } }[] })
      .receivedMessages;
    expect(dead).toHaveLength(1);
    expect(dead[0]!.message.attributes.CloudPubSubDeadLetterSourceDeliveryCount).toBe('5');
  });

  it('delivers an ordering key one message at a time, in order', async () => {
    await put('topics/ordered', {});
    await put('subscriptions/ordered-push', {
      topic: `${P()}/topics/ordered`,
      pushConfig: { pushEndpoint: endpoint },
      enableMessageOrdering: true,
    });
    received.length = 0;
    let failFirst = true;
    answer = (body) => {
      if (failFirst && Buffer.from(body.message.data, 'base64').toString() === '1') {
        failFirst = false;
        return 503;
      }
      return 200;
    };
    await publish(
      'ordered',
      ['1', '2', '3'].map((n) => ({ data: Buffer.from(n).toString('base64'), orderingKey: 'room-1' })),
    );
    await sim.advance(0);
    await sim.advance(1_000);
    await sim.advance(1_000);
    await sim.advance(1_000);
    const seen = received.map((r) => Buffer.from(r.body.message.data, 'base64').toString());
    expect(seen).toEqual(['1', '1', '2', '3']);
  });

  it('every answer above fits the discovery document and the client descriptors', () => {
    const { protos, discovery, problems } = contractProblems(exchanges);
    console.log(
      `checked ${protos} Pub/Sub answers against the client's descriptors, ${discovery} against the discovery document`,
    );
    expect(problems).toEqual([]);
    expect(protos).toBeGreaterThan(5);
  });

  it('a slow endpoint is not redelivered while its push is on the wire, however far the clock jumps', async () => {
    await put('topics/slow', {});
    await put('subscriptions/slow-push', {
      topic: `${P()}/topics/slow`,
      pushConfig: { pushEndpoint: endpoint },
      ackDeadlineSeconds: 10,
    });
    received.length = 0;
    answer = () => 200;
    slowMs = 200;
    await publish('slow', [{ data: Buffer.from('once').toString('base64') }]);
    await clock.advance(120_000);
    slowMs = 0;
    expect(received.map((r) => Buffer.from(r.body.message.data, 'base64').toString())).toEqual(['once']);
  });
});

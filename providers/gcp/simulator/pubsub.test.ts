import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from './clock.ts';
import { type GcpSimulator, startGcpSimulator } from './server.ts';
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
});

import { randomBytes } from 'node:crypto';
import type { ClockTimer } from './clock.ts';
import type { SimContext } from './context.ts';
import type { OidcSigner } from './oidc.ts';
import { compileFilter } from './pubsub-filter.ts';
import { durationSeconds } from './resource-helpers.ts';
import type { Json, PendingDelivery, StoredMessage } from './state.ts';

/** Sends an HTTP request a push subscription makes; answers the HTTP status (0 when unreachable). */
export type PushSender = (request: {
  url: string;
  headers: Record<string, string>;
  body: Buffer;
  timeoutMs: number;
  /** Set when the subscription was made by Eventarc for this function. */
  functionName?: string;
}) => Promise<number>;

const PUSH_OK = new Set([102, 200, 201, 202, 204]);

/**
 * Pub/Sub's data plane: each published message goes to every attached subscription whose filter
 * matches; pull and push leases with ack deadlines; redelivery with the retry policy's backoff;
 * dead-lettering after `maxDeliveryAttempts`; ordering keys delivered one at a time, in order.
 */
export class PubSubBroker {
  readonly #ctx: SimContext;
  readonly #signer: OidcSigner;
  readonly #send: PushSender;
  readonly #timers = new Map<string, ClockTimer>();
  #inflight = 0;
  #waiters: (() => void)[] = [];
  #closed = false;

  constructor(ctx: SimContext, signer: OidcSigner, send: PushSender) {
    this.#ctx = ctx;
    this.#signer = signer;
    this.#send = send;
  }

  get #backlog(): Record<string, PendingDelivery[]> {
    return this.#ctx.state.data.backlog;
  }

  /** Publishes to a topic (which must exist); answers the message ids. */
  publish(
    topic: string,
    messages: { data?: string; attributes?: Record<string, string>; orderingKey?: string }[],
  ): string[] {
    const ids: string[] = [];
    const now = this.#ctx.clock.now();
    for (const m of messages) {
      const message: StoredMessage = {
        messageId: String(this.#ctx.state.next() + 1_000_000_000_000),
        data: m.data ?? '',
        attributes: m.attributes ?? {},
        publishTime: new Date(now).toISOString(),
        orderingKey: m.orderingKey ?? '',
      };
      ids.push(message.messageId);
      for (const sub of Object.values(this.#ctx.state.data.subscriptions)) {
        if (sub.topic !== topic || sub.detached === true) continue;
        if (typeof sub.filter === 'string' && sub.filter !== '' && !compileFilter(sub.filter)(message.attributes))
          continue;
        this.#backlog[sub.name as string] ??= [];
        this.#backlog[sub.name as string]!.push({ message, attempts: 0, availableAt: now });
        this.#arm(sub.name as string, 0);
      }
    }
    this.#ctx.state.changed();
    return ids;
  }

  /** Leases up to `max` messages of a subscription (a pull). */
  pull(subscription: string, max: number): Json[] {
    this.#expire(subscription);
    const sub = this.#ctx.state.data.subscriptions[subscription]!;
    const out: Json[] = [];
    for (const d of this.#deliverable(subscription).slice(0, Math.max(1, max))) {
      this.#lease(sub, d);
      const received: Json = { ackId: d.ackId, message: renderMessage(d.message) };
      if (sub.deadLetterPolicy) received.deliveryAttempt = d.attempts;
      out.push(received);
    }
    this.#arm(subscription);
    this.#ctx.state.changed();
    return out;
  }

  acknowledge(subscription: string, ackIds: readonly string[]): void {
    const list = this.#backlog[subscription] ?? [];
    const ids = new Set(ackIds);
    this.#backlog[subscription] = list.filter((d) => !(d.ackId !== undefined && ids.has(d.ackId)));
    this.#ctx.state.changed();
    this.#arm(subscription, 0);
  }

  /** Extends (or with 0 seconds, ends) leases. */
  modifyAckDeadline(subscription: string, ackIds: readonly string[], seconds: number): void {
    const now = this.#ctx.clock.now();
    const ids = new Set(ackIds);
    for (const d of this.#backlog[subscription] ?? []) {
      if (d.ackId === undefined || !ids.has(d.ackId)) continue;
      if (seconds === 0) this.#fail(subscription, d);
      else d.leaseUntil = now + seconds * 1000;
    }
    this.#ctx.state.changed();
    this.#arm(subscription, 0);
  }

  /** Messages waiting or leased on a subscription (a test handle). */
  backlog(subscription: string): number {
    return (this.#backlog[subscription] ?? []).length;
  }

  removeSubscription(subscription: string): void {
    delete this.#backlog[subscription];
    this.#timers.get(subscription)?.cancel();
    this.#timers.delete(subscription);
  }

  /** Re-arms the delivery timers of a loaded state. */
  resume(): void {
    for (const name of Object.keys(this.#backlog)) this.#arm(name, 0);
  }

  /** Resolves once no push is on the wire and none is due now. */
  async idle(): Promise<void> {
    for (;;) {
      await new Promise<void>((r) => setImmediate(r));
      if (this.#inflight === 0) return;
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }

  close(): void {
    this.#closed = true;
    for (const t of this.#timers.values()) t.cancel();
    this.#timers.clear();
  }

  #deliverable(subscription: string): PendingDelivery[] {
    const sub = this.#ctx.state.data.subscriptions[subscription];
    if (!sub) return [];
    const now = this.#ctx.clock.now();
    const ordered = sub.enableMessageOrdering === true;
    const blocked = new Set<string>();
    const out: PendingDelivery[] = [];
    for (const d of this.#backlog[subscription] ?? []) {
      const key = ordered ? d.message.orderingKey : '';
      if (key !== '' && blocked.has(key)) continue;
      if (key !== '') blocked.add(key);
      if (d.ackId !== undefined && (d.leaseUntil ?? 0) > now) continue;
      if (d.availableAt > now) continue;
      out.push(d);
    }
    return out;
  }

  #lease(sub: Json, d: PendingDelivery): void {
    d.attempts += 1;
    d.ackId = `${randomBytes(12).toString('base64url')}-${this.#ctx.state.next()}`;
    d.leaseUntil = this.#ctx.clock.now() + Number(sub.ackDeadlineSeconds ?? 10) * 1000;
  }

  /** Drops messages older than the retention, and ends expired leases (each a failed delivery). */
  #expire(subscription: string): void {
    const now = this.#ctx.clock.now();
    const sub = this.#ctx.state.data.subscriptions[subscription];
    const retentionMs = durationSeconds(sub?.messageRetentionDuration, 604_800) * 1000;
    const list = this.#backlog[subscription];
    if (list?.some((d) => Date.parse(d.message.publishTime) + retentionMs <= now))
      this.#backlog[subscription] = list.filter((d) => Date.parse(d.message.publishTime) + retentionMs > now);
    for (const d of [...(this.#backlog[subscription] ?? [])]) {
      if (d.ackId !== undefined && (d.leaseUntil ?? 0) <= now) this.#fail(subscription, d);
    }
  }

  /** A delivery failed (nack, expired lease, push error): back off, or dead-letter. */
  #fail(subscription: string, d: PendingDelivery): void {
    const sub = this.#ctx.state.data.subscriptions[subscription];
    d.ackId = undefined;
    d.leaseUntil = undefined;
    if (!sub) return;
    const dlp = sub.deadLetterPolicy as Json | undefined;
    const maxAttempts = Number(dlp?.maxDeliveryAttempts ?? 5);
    if (dlp?.deadLetterTopic && d.attempts >= maxAttempts) {
      const target = dlp.deadLetterTopic as string;
      if (this.#ctx.state.data.topics[target]) {
        this.#backlog[subscription] = (this.#backlog[subscription] ?? []).filter((x) => x !== d);
        this.publish(target, [
          {
            data: d.message.data,
            orderingKey: d.message.orderingKey,
            attributes: {
              ...d.message.attributes,
              CloudPubSubDeadLetterSourceDeliveryCount: String(d.attempts),
              CloudPubSubDeadLetterSourceSubscription: subscription.split('/').at(-1)!,
              CloudPubSubDeadLetterSourceSubscriptionProject: subscription.split('/')[1]!,
              CloudPubSubDeadLetterSourceTopicPublishTime: d.message.publishTime,
            },
          },
        ]);
        return;
      }
      this.#ctx.log.warn(
        { subscription, deadLetterTopic: target },
        'gcp simulator: dead-letter topic does not exist; retrying',
      );
    }
    const retry = sub.retryPolicy as Json | undefined;
    const push = isPush(sub);
    let delayMs = 0;
    if (retry) {
      const min = durationSeconds(retry.minimumBackoff, 10);
      const max = durationSeconds(retry.maximumBackoff, 600);
      delayMs = Math.min(max, min * 2 ** Math.max(0, d.attempts - 1)) * 1000;
    } else if (push) {
      delayMs = Math.min(60_000, 100 * 2 ** Math.max(0, d.attempts - 1));
    }
    d.availableAt = this.#ctx.clock.now() + delayMs;
  }

  /** Sets the subscription's timer at its next event (a due message, an expiring lease). */
  #arm(subscription: string, inMs?: number): void {
    if (this.#closed) return;
    const now = this.#ctx.clock.now();
    let at = Number.POSITIVE_INFINITY;
    for (const d of this.#backlog[subscription] ?? []) {
      if (d.ackId !== undefined) at = Math.min(at, d.leaseUntil ?? now);
      else if (d.availableAt > now) at = Math.min(at, d.availableAt);
    }
    const sub = this.#ctx.state.data.subscriptions[subscription];
    const due = sub !== undefined && isPush(sub) && this.#deliverable(subscription).length > 0;
    if (inMs !== undefined && due) at = Math.min(at, now + inMs);
    else if (due) at = now;
    this.#timers.get(subscription)?.cancel();
    this.#timers.delete(subscription);
    if (at === Number.POSITIVE_INFINITY) return;
    this.#timers.set(
      subscription,
      this.#ctx.clock.setTimer(at - now, () => this.#tick(subscription)),
    );
  }

  #tick(subscription: string): void {
    this.#timers.delete(subscription);
    const sub = this.#ctx.state.data.subscriptions[subscription];
    if (!sub) return;
    this.#expire(subscription);
    if (isPush(sub)) {
      for (const d of this.#deliverable(subscription)) this.#push(sub, d);
    }
    this.#arm(subscription);
  }

  #push(sub: Json, d: PendingDelivery): void {
    const name = sub.name as string;
    this.#lease(sub, d);
    const ackId = d.ackId;
    this.#inflight += 1;
    void this.#sendPush(sub, d)
      .catch(() => 0)
      .then((status) => {
        const list = this.#backlog[name] ?? [];
        if (list.includes(d) && d.ackId === ackId) {
          if (PUSH_OK.has(status)) this.#backlog[name] = list.filter((x) => x !== d);
          else this.#fail(name, d);
        }
        this.#ctx.state.changed();
        this.#arm(name, 0);
      })
      .finally(() => {
        this.#inflight -= 1;
        if (this.#inflight === 0) for (const w of this.#waiters.splice(0)) w();
      });
  }

  async #sendPush(sub: Json, d: PendingDelivery): Promise<number> {
    const name = sub.name as string;
    const push = sub.pushConfig as Json;
    const url = push.pushEndpoint as string;
    const timeoutMs = Number(sub.ackDeadlineSeconds ?? 10) * 1000;
    const functionName = this.#ctx.state.data.eventarc[name];
    const headers: Record<string, string> = {};
    const oidc = push.oidcToken as Json | undefined;
    if (oidc?.serviceAccountEmail) {
      const token = await this.#signer.idToken(oidc.serviceAccountEmail as string, (oidc.audience as string) || url);
      headers.authorization = `Bearer ${token}`;
    }
    const body: Json = { message: renderPushMessage(d.message), subscription: name };
    if (sub.deadLetterPolicy) body.deliveryAttempt = d.attempts;
    if (functionName) {
      const topic = sub.topic as string;
      Object.assign(headers, {
        'content-type': 'application/json',
        'ce-id': d.message.messageId,
        'ce-specversion': '1.0',
        'ce-type': 'google.cloud.pubsub.topic.v1.messagePublished',
        'ce-source': `//pubsub.googleapis.com/${topic}`,
        'ce-time': d.message.publishTime,
      });
      return this.#send({ url, headers, body: Buffer.from(JSON.stringify(body)), timeoutMs, functionName });
    }
    headers['content-type'] = 'application/json';
    return this.#send({ url, headers, body: Buffer.from(JSON.stringify(body)), timeoutMs });
  }
}

function isPush(sub: Json): boolean {
  return (
    typeof (sub.pushConfig as Json | undefined)?.pushEndpoint === 'string' &&
    (sub.pushConfig as Json).pushEndpoint !== ''
  );
}

export function renderMessage(m: StoredMessage): Json {
  const out: Json = { data: m.data, messageId: m.messageId, publishTime: m.publishTime };
  if (Object.keys(m.attributes).length > 0) out.attributes = m.attributes;
  if (m.orderingKey !== '') out.orderingKey = m.orderingKey;
  return out;
}

/** A push body's message carries both spellings of the id and time, as Pub/Sub sends them. */
function renderPushMessage(m: StoredMessage): Json {
  return { ...renderMessage(m), attributes: m.attributes, message_id: m.messageId, publish_time: m.publishTime };
}

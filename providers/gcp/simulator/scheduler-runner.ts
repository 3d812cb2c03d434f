import type { ClockTimer } from './clock.ts';
import type { SimContext } from './context.ts';
import { nextFire, parseCron } from './cron.ts';
import type { OidcSigner } from './oidc.ts';
import type { PubSubBroker } from './pubsub-broker.ts';
import { durationSeconds } from './resource-helpers.ts';
import type { Json } from './state.ts';

const HTTP_METHODS = ['POST', 'GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];

/**
 * Fires ENABLED Scheduler jobs at their `scheduleTime` on the simulator's clock: an HTTP request
 * (with an OIDC token when the job has one) or a Pub/Sub publish; retries per `retryConfig`.
 */
export class SchedulerRunner {
  readonly #ctx: SimContext;
  readonly #signer: OidcSigner;
  readonly #broker: PubSubBroker;
  readonly #timers = new Map<string, ClockTimer>();
  readonly #inflight = new Set<Promise<void>>();
  #closed = false;

  constructor(ctx: SimContext, signer: OidcSigner, broker: PubSubBroker) {
    this.#ctx = ctx;
    this.#signer = signer;
    this.#broker = broker;
  }

  /** (Re)sets a job's timer from its state (none when deleted or paused). */
  arm(name: string): void {
    this.#timers.get(name)?.cancel();
    this.#timers.delete(name);
    const job = this.#ctx.state.data.jobs[name];
    if (this.#closed || !job || job.state !== 'ENABLED' || typeof job.scheduleTime !== 'string') return;
    const at = Date.parse(job.scheduleTime);
    this.#timers.set(
      name,
      this.#ctx.clock.setTimer(at - this.#ctx.clock.now(), () => {
        this.#timers.delete(name);
        this.fire(name, false);
      }),
    );
  }

  resume(): void {
    for (const name of Object.keys(this.#ctx.state.data.jobs)) this.arm(name);
  }

  /** Fires every ENABLED job whose `scheduleTime` has passed. */
  fireDue(): void {
    const now = this.#ctx.clock.now();
    for (const job of Object.values(this.#ctx.state.data.jobs)) {
      if (job.state === 'ENABLED' && typeof job.scheduleTime === 'string' && Date.parse(job.scheduleTime) <= now)
        this.fire(job.name as string, false);
    }
  }

  /** Runs a job now; a scheduled run also moves `scheduleTime` to the next slot. */
  fire(name: string, manual: boolean): void {
    const job = this.#ctx.state.data.jobs[name];
    if (!job) return;
    const scheduled = (job.scheduleTime as string | undefined) ?? this.#ctx.timestamp();
    if (!manual && job.state === 'ENABLED') {
      job.scheduleTime = new Date(
        nextFire(parseCron(job.schedule as string), job.timeZone as string, this.#ctx.clock.now()),
      ).toISOString();
      this.arm(name);
    }
    this.#track(this.#attempt(name, scheduled, 0, this.#ctx.clock.now()));
  }

  async idle(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
  }

  busy(): number {
    return this.#inflight.size;
  }

  close(): void {
    this.#closed = true;
    for (const t of this.#timers.values()) t.cancel();
    this.#timers.clear();
  }

  #track(p: Promise<void>): void {
    this.#inflight.add(p);
    void p.finally(() => this.#inflight.delete(p));
  }

  async #attempt(name: string, scheduleTime: string, retry: number, firstAt: number): Promise<void> {
    const job = this.#ctx.state.data.jobs[name];
    if (!job) return;
    job.lastAttemptTime = this.#ctx.timestamp();
    let status: Json = {};
    try {
      const code = await this.#send(job, scheduleTime, retry);
      if (code < 200 || code >= 300) status = { code: httpToRpc(code), message: `HTTP ${code}` };
    } catch (e) {
      status = { code: 14, message: (e as Error).message };
    }
    const current = this.#ctx.state.data.jobs[name];
    if (!current) return;
    current.status = status;
    this.#ctx.state.changed();
    if (status.code === undefined || this.#closed) return;
    const rc = (current.retryConfig ?? {}) as Json;
    const retryCount = Number(rc.retryCount ?? 0);
    if (retry >= retryCount) return;
    const min = durationSeconds(rc.minBackoffDuration, 5);
    const max = durationSeconds(rc.maxBackoffDuration, 3600);
    const doublings = Number(rc.maxDoublings ?? 5);
    const delay = Math.min(max, min * 2 ** Math.min(retry, doublings)) * 1000;
    // Both limits apply when both are set: retryCount attempts, within maxRetryDuration (0 = unlimited).
    const maxDuration = durationSeconds(rc.maxRetryDuration, 0) * 1000;
    if (maxDuration > 0 && this.#ctx.clock.now() + delay - firstAt > maxDuration) return;
    this.#ctx.clock.setTimer(delay, () => this.#track(this.#attempt(name, scheduleTime, retry + 1, firstAt)));
  }

  async #send(job: Json, scheduleTime: string, retry: number): Promise<number> {
    const pubsub = job.pubsubTarget as Json | undefined;
    if (pubsub) {
      this.#broker.publish(pubsub.topicName as string, [
        { data: (pubsub.data as string) ?? '', attributes: (pubsub.attributes as Record<string, string>) ?? {} },
      ]);
      return 200;
    }
    const http = job.httpTarget as Json;
    const uri = http.uri as string;
    const method =
      typeof http.httpMethod === 'number' ? HTTP_METHODS[http.httpMethod - 1]! : String(http.httpMethod ?? 'POST');
    const headers: Record<string, string> = {
      'user-agent': 'Google-Cloud-Scheduler',
      'x-cloudscheduler': 'true',
      'x-cloudscheduler-jobname': (job.name as string).split('/').at(-1)!,
      'x-cloudscheduler-scheduletime': scheduleTime,
      ...((http.headers ?? {}) as Record<string, string>),
    };
    if (retry > 0) headers['x-cloudscheduler-retrycount'] = String(retry);
    const oidc = http.oidcToken as Json | undefined;
    if (oidc?.serviceAccountEmail) {
      const token = await this.#signer.idToken(oidc.serviceAccountEmail as string, (oidc.audience as string) || uri);
      headers.authorization = `Bearer ${token}`;
    } else if ((http.oauthToken as Json | undefined)?.serviceAccountEmail) {
      headers.authorization = `Bearer ${this.#ctx.accessToken}`;
    }
    const hasBody = method !== 'GET' && method !== 'HEAD' && typeof http.body === 'string';
    const res = await fetch(uri, {
      method,
      headers,
      body: hasBody ? Buffer.from(http.body as string, 'base64') : undefined,
      signal: AbortSignal.timeout(durationSeconds(job.attemptDeadline, 180) * 1000),
    });
    await res.arrayBuffer();
    return res.status;
  }
}

function httpToRpc(code: number): number {
  if (code === 400) return 3;
  if (code === 401) return 16;
  if (code === 403) return 7;
  if (code === 404) return 5;
  if (code === 429) return 8;
  if (code === 503) return 14;
  if (code === 504) return 4;
  return code >= 500 ? 13 : 2;
}

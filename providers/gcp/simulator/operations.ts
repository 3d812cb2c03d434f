import { ApiError, notFound } from './api-error.ts';
import type { SimContext } from './context.ts';
import { protoType } from './proto-types.ts';
import { page } from './resource-helpers.ts';
import { ok, type Route, route } from './router.ts';
import type { Json, OperationRecord } from './state.ts';

/** Finishes an operation: returns its response (with `@type`), or throws an ApiError for `error`. */
export type Completer = (op: OperationRecord) => Json | Promise<Json>;

/** Options of the simulated long-running operations. */
export interface OperationTiming {
  /** GETs that answer "not done" before an operation may finish (default 1). */
  readonly polls?: number;
  /** Clock time after which an operation finishes even if nobody polls (default 2000 ms). */
  readonly durationMs?: number;
}

/**
 * Long-running operations `{name, metadata, done, response | error}`. An operation finishes on
 * whichever comes first: its `polls`-th + 1 GET, or `durationMs` of clock time; finishing runs its
 * kind's completer (which may take real time, e.g. starting a function), and only then is it done.
 */
export class Operations {
  readonly #ctx: SimContext;
  readonly #completers = new Map<string, Completer>();
  readonly #finishing = new Map<string, Promise<void>>();
  readonly #polls: number;
  readonly #durationMs: number;
  readonly #timers: { cancel(): void }[] = [];

  constructor(ctx: SimContext, timing: OperationTiming = {}) {
    this.#ctx = ctx;
    this.#polls = timing.polls ?? 1;
    this.#durationMs = timing.durationMs ?? 2000;
  }

  register(kind: string, completer: Completer): void {
    this.#completers.set(kind, completer);
  }

  /** Starts an operation; `immediate` ones finish before the call answers (e.g. a no-op enable). */
  start(init: { name: string; kind: string; target: string; metadata: Json; input?: Json }): OperationRecord {
    const op: OperationRecord = {
      ...init,
      done: false,
      polls: 0,
      dueAt: this.#ctx.clock.now() + this.#durationMs,
    };
    this.#ctx.state.data.operations[op.name] = op;
    this.#ctx.state.changed();
    this.#arm(op);
    return op;
  }

  /** Re-arms the timers of operations loaded from a saved state. */
  resume(): void {
    for (const op of Object.values(this.#ctx.state.data.operations)) if (!op.done) this.#arm(op);
  }

  #arm(op: OperationRecord): void {
    this.#timers.push(
      this.#ctx.clock.setTimer(op.dueAt - this.#ctx.clock.now(), () => {
        void this.#finish(op);
      }),
    );
  }

  /** The operation as a GET answers it (counting the poll). */
  poll(name: string): Json {
    const op = this.#ctx.state.data.operations[name];
    if (!op) throw notFound('Operation', name);
    if (!op.done) {
      op.polls += 1;
      if (op.polls > this.#polls) void this.#finish(op);
    }
    return render(op);
  }

  get(name: string): OperationRecord | undefined {
    return this.#ctx.state.data.operations[name];
  }

  /** Finishes every running operation now and waits for them (a test handle). */
  async settle(): Promise<void> {
    const running = Object.values(this.#ctx.state.data.operations).filter((o) => !o.done);
    await Promise.all(running.map((o) => this.#finish(o)));
  }

  /** Whether a resource has a running operation. */
  busy(target: string): boolean {
    return Object.values(this.#ctx.state.data.operations).some((o) => !o.done && o.target === target);
  }

  stop(): void {
    for (const t of this.#timers) t.cancel();
  }

  #finish(op: OperationRecord): Promise<void> {
    if (op.done) return Promise.resolve();
    let running = this.#finishing.get(op.name);
    if (running) return running;
    const completer = this.#completers.get(op.kind);
    running = (async () => {
      try {
        if (!completer) throw new ApiError('INTERNAL', `no completer for operation kind ${op.kind}`);
        op.response = await completer(op);
      } catch (e) {
        const err = e instanceof ApiError ? e : new ApiError('INTERNAL', (e as Error).message);
        op.error = { ...err.toRpcStatus(), details: [...err.details] };
        this.#ctx.log.warn(
          { operation: op.name, kind: op.kind, error: err.message },
          'gcp simulator: operation failed',
        );
      }
      op.done = true;
      if (hasEndTime(op.metadata)) op.metadata = { ...op.metadata, endTime: this.#ctx.timestamp() };
      this.#finishing.delete(op.name);
      this.#ctx.state.changed();
    })();
    this.#finishing.set(op.name, running);
    return running;
  }

  routes(): Route[] {
    const list = (prefix: string) => (req: { query: URLSearchParams }) =>
      ok(
        page(
          Object.values(this.#ctx.state.data.operations)
            .filter((o) => o.name.startsWith(prefix))
            .map(render),
          req.query,
          'operations',
        ),
      );
    return [
      route('operations', 'GET', '/v2/projects/{p}/locations/{l}/operations/{id}', (req) =>
        ok(this.poll(`projects/${req.params.p}/locations/${req.params.l}/operations/${req.params.id}`)),
      ),
      route('operations', 'GET', '/v2/projects/{p}/locations/{l}/operations', (req) =>
        list(`projects/${req.params.p}/locations/${req.params.l}/operations/`)(req),
      ),
      route('operations', 'GET', '/v1/projects/{p}/databases/{d}/operations/{id}', (req) =>
        ok(this.poll(`projects/${req.params.p}/databases/${req.params.d}/operations/${req.params.id}`)),
      ),
      route('operations', 'GET', '/v1/projects/{p}/databases/{d}/operations', (req) =>
        list(`projects/${req.params.p}/databases/${req.params.d}/operations/`)(req),
      ),
      route('operations', 'GET', '/v1/operations/{id}', (req) => ok(this.poll(`operations/${req.params.id}`))),
      route('operations', 'GET', '/v1/operations', (req) => list('operations/')(req)),
    ];
  }
}

export function render(op: OperationRecord): Json {
  const out: Json = { name: op.name, metadata: op.metadata, done: op.done };
  if (op.done && op.error) out.error = op.error;
  else if (op.done && op.response) out.response = op.response;
  return out;
}

/** `type.googleapis.com/<name>` */
export function typeUrl(name: string): string {
  return `type.googleapis.com/${name}`;
}

/** Whether the metadata's message type has an `endTime` (Run's metadata is the Service itself; some have no fields). */
function hasEndTime(metadata: Json): boolean {
  const type = String(metadata['@type'] ?? '').replace(/^type\.googleapis\.com\//, '');
  try {
    return type !== '' && protoType(type).fields.endTime !== undefined;
  } catch {
    return false;
  }
}

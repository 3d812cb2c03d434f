import PQueue from 'p-queue';
import {
  type DesiredResource,
  diffSpec,
  ERRORS,
  type ErrorClass,
  type ErrorCode,
  errorMessage,
  type FieldChange,
  type HandlerContext,
  KeelsonError,
  leftoverOf,
  type ObservedResource,
  type ResolvedResource,
  type ResourceHandler,
} from '../../providers/sdk/index.ts';
import { desiredSpec, type SpecInput } from '../plan/plan.ts';
import type { Plan, ResourceChange } from '../plan/types.ts';
import type { ProviderRegistry } from '../providers/registry.ts';
import { DEFAULT_RETRY, type RetryPolicy, withRetry } from './retry.ts';

/** The outcome of one change. */
export interface ChangeResult {
  readonly key: string;
  readonly kind: string;
  readonly provider: string;
  readonly action: ResourceChange['action'];
  readonly status: 'applied' | 'failed' | 'skipped';
  readonly error?: {
    readonly code: ErrorCode;
    readonly class: ErrorClass;
    readonly message: string;
    /** For `waiting` errors: when to look again. */
    readonly retryAfterMs?: number;
  };
  readonly durationMs: number;
  /** The desired spec as applied (resolved), for the "applied" record. Contains SecretValues. */
  readonly appliedSpec?: Record<string, unknown>;
  /**
   * Sent, but not waited for (`settle` answered `'unconfirmed'`: keelson's own service), so not
   * recorded as applied: a later pass records it once it finds the resource ready and as in Git.
   */
  readonly unconfirmed?: boolean;
}

/** Durable bookkeeping the applier needs around creates and deletes (the state store behind it). */
export interface ApplyJournal {
  /** Written (durably) before a create: a crash after the vendor's create but before `created` is adopted next pass. */
  beginCreate(resource: DesiredResource): Promise<void>;
  /**
   * A create whose answer was lost made an object keelson cannot mark as its own (ownership kept in
   * the inventory): the create in flight is the proof it is keelson's, so it enters the inventory.
   */
  claimed(resource: DesiredResource, observed: ObservedResource): Promise<void>;
  created(resource: DesiredResource, observed: ObservedResource, appliedSpec: Record<string, unknown>): Promise<void>;
  updated(resource: DesiredResource, appliedSpec: Record<string, unknown>): Promise<void>;
  deleted(key: string): Promise<void>;
}

export interface ApplyInput {
  readonly plan: Plan;
  readonly desired: ReadonlyMap<string, DesiredResource>;
  /** Live state; entries are replaced as changes are applied, so later waves resolve new outputs. */
  readonly observed: Map<string, ObservedResource>;
  readonly planInput: SpecInput;
  readonly registry: ProviderRegistry;
  readonly context: (provider: string) => HandlerContext;
  readonly journal: ApplyJournal;
  readonly retry?: RetryPolicy;
  readonly signal?: AbortSignal;
  /** Called as each change starts and ends (progress output, metrics). */
  readonly onProgress?: (event: ApplyProgress) => void;
  /** Called with the time each `settle` took (where a pass's time goes). */
  readonly onSettled?: (ms: number) => void;
}

export type ApplyProgress =
  | { readonly type: 'start'; readonly change: ResourceChange }
  | { readonly type: 'end'; readonly change: ResourceChange; readonly result: ChangeResult };

const ACTING = new Set<ResourceChange['action']>(['create', 'update', 'replace', 'delete']);

/**
 * Applies a plan wave by wave; inside a wave, one p-queue per provider bounds concurrency.
 * A failed change makes its dependents skip ("dependency failed"); other resources carry on.
 * Last, the handlers of the kinds that changed collect their garbage (old secret versions).
 */
export async function applyPlan(input: ApplyInput): Promise<ChangeResult[]> {
  if (input.plan.refused)
    throw new KeelsonError(input.plan.refused.message, { code: 'DELETION_BUDGET', class: 'terminal' });
  const retry = input.retry ?? DEFAULT_RETRY;
  const results: ChangeResult[] = [];
  const failed = new Set<string>();
  const queues = new Map<string, PQueue>();
  const queueFor = (provider: string): PQueue => {
    let q = queues.get(provider);
    if (!q) {
      q = new PQueue({ concurrency: input.registry.provider(provider)?.concurrency ?? 4 });
      queues.set(provider, q);
    }
    return q;
  };
  const waves = [...new Set(input.plan.changes.filter((c) => ACTING.has(c.action)).map((c) => c.wave))].sort(
    (a, b) => a - b,
  );
  for (const wave of waves) {
    const inWave = input.plan.changes.filter((c) => c.wave === wave && ACTING.has(c.action));
    const done = await Promise.all(
      inWave.map((change) =>
        queueFor(change.provider).add(async () => {
          input.onProgress?.({ type: 'start', change });
          const result = await applyOne(change, input, retry, failed);
          if (result.status === 'failed') failed.add(change.key);
          input.onProgress?.({ type: 'end', change, result });
          return result;
        }),
      ),
    );
    results.push(...(done as ChangeResult[]));
    if (input.signal?.aborted) break;
  }
  await collectGarbage(input, results);
  return results;
}

/** Garbage collection is a provider verb like the others: called here, after the waves, for the kinds that changed. */
async function collectGarbage(input: ApplyInput, results: readonly ChangeResult[]): Promise<void> {
  const touched = new Set(results.filter((r) => r.status === 'applied').map((r) => r.kind));
  for (const kind of touched) {
    const handler = input.registry.handler(kind);
    if (!handler?.collectGarbage) continue;
    const ctx = input.context(kind.split('.')[0] ?? kind);
    try {
      await handler.collectGarbage(ctx);
    } catch (error) {
      ctx.log.warn({ kind, err: errorMessage(error) }, 'garbage collection failed; it is retried after the next apply');
    }
  }
}

async function applyOne(
  change: ResourceChange,
  input: ApplyInput,
  retry: RetryPolicy,
  failed: ReadonlySet<string>,
): Promise<ChangeResult> {
  const started = performance.now();
  const base = { key: change.key, kind: change.kind, provider: change.provider, action: change.action };
  const finish = (status: ChangeResult['status'], extra: Partial<ChangeResult> = {}): ChangeResult => ({
    ...base,
    status,
    durationMs: Math.round(performance.now() - started),
    ...extra,
  });
  const handler = input.registry.handler(change.kind);
  if (!handler) {
    return finish('failed', {
      error: {
        code: 'UNAVAILABLE',
        class: 'terminal',
        message: `cannot ${change.action} ${change.key}: provider ${change.provider} is not available`,
      },
    });
  }
  const ctx = input.context(change.provider);
  try {
    if (change.action === 'delete') {
      const observed = input.observed.get(change.key);
      if (observed) await withRetry(() => handler.delete(ctx, observed), retry, input.signal);
      input.observed.delete(change.key);
      await input.journal.deleted(change.key);
      return finish('applied');
    }
    const desired = input.desired.get(change.key);
    if (!desired)
      throw new KeelsonError(`cannot apply ${change.key}: not in the desired state`, {
        code: 'INVALID_SPEC',
        class: 'terminal',
      });
    const blocker = desired.dependsOn.find((d) => failed.has(d));
    if (blocker) {
      return finish('skipped', {
        error: {
          code: 'DEPENDENCY_FAILED',
          class: 'waiting',
          message: ERRORS.DEPENDENCY_FAILED.message(change.key, `its dependency ${blocker}`, 'failed'),
        },
      });
    }
    // Resolve again: outputs of resources created in earlier waves are known now.
    const want = desiredSpec({ ...input.planInput, observed: input.observed }, desired);
    const resolved: ResolvedResource = { ...desired, spec: want.spec };
    const unknown = want.unknownFrom.find((k) => !input.observed.has(k));
    if (unknown) {
      return finish('skipped', {
        error: {
          code: 'DEPENDENCY_FAILED',
          class: 'waiting',
          message: ERRORS.DEPENDENCY_FAILED.message(change.key, unknown, 'does not exist yet'),
        },
      });
    }
    if (change.action === 'update') {
      const observed = input.observed.get(change.key) as ObservedResource;
      const fields: readonly FieldChange[] = change.fields;
      const updated = await withRetry(() => handler.update(ctx, resolved, observed, fields), retry, input.signal);
      const settled = await settle(handler, ctx, updated, input.onSettled);
      input.observed.set(change.key, settled.observed);
      // Not waited for (keelson's own service): how it ends is for a later pass (maybe another
      // replica's) to see; recording it now would turn a rollback into drift to heal.
      if (settled.unconfirmed) return finish('applied', { unconfirmed: true });
      await input.journal.updated(desired, want.spec);
      return finish('applied', { appliedSpec: want.spec });
    }
    const old = change.action === 'replace' ? input.observed.get(change.key) : undefined;
    if (old && change.replaceOrder !== 'create-first') {
      await withRetry(() => handler.delete(ctx, old), retry, input.signal);
      input.observed.delete(change.key);
    }
    const createFirst = old !== undefined && change.replaceOrder === 'create-first';
    const created = await createOnce(handler, ctx, resolved, input, retry, createFirst ? old.id : undefined);
    const settled = (await settle(handler, ctx, created, input.onSettled)).observed;
    input.observed.set(change.key, settled);
    await input.journal.created(desired, settled, want.spec);
    if (createFirst) {
      // The old object goes only once the new one is what Git asks for: a create that did not
      // finish (found after a failure, half made) is finished by the next pass's update, and the
      // old object, a leftover then, is deleted after it (deletes run in the last waves).
      const schema = input.planInput.schema(change.kind);
      const unfinished = schema ? diffSpec(schema.spec, want.spec, settled.spec).map((f) => f.path) : [];
      if (unfinished.length > 0) {
        ctx.log.warn(
          { resource: change.key, fields: unfinished, old: old.id },
          'the new object is not finished: the old one is kept until it is',
        );
        return finish('applied', { appliedSpec: want.spec });
      }
      // Nor before the new one is ready (an index still building): a later pass deletes the old
      // one, a leftover then, once observe finds the new one ready (the plan holds it back until).
      if (!settled.ready) {
        ctx.log.info(
          { resource: change.key, old: old.id },
          'the new object is not ready yet: the old one is kept until it is',
        );
        return finish('applied', { appliedSpec: want.spec });
      }
      // The new object exists and is recorded: the old one is a leftover now, deleted as observe
      // would report it after a crash right here (so a handler finds its own bookkeeping under it).
      const leftover = leftoverOf(old);
      try {
        await withRetry(() => handler.delete(ctx, leftover), retry, input.signal);
      } catch (error) {
        return finish('failed', {
          appliedSpec: want.spec,
          error: {
            ...describeError(error, change),
            message: `created the new ${change.key}, but the old one (id ${old.id}) is not deleted yet: ${errorMessage(error)}; the next pass deletes it`,
          },
        });
      }
      await input.journal.deleted(leftover.key);
    }
    return finish('applied', { appliedSpec: want.spec });
  } catch (error) {
    return finish('failed', { error: describeError(error, change) });
  }
}

/**
 * A create is never retried blindly: after a transient failure the kind is observed again, and
 * a resource that appeared under this key is the one we created (the plan saw nothing there). One
 * that carries no ownership mark (kinds whose ownership lives in the inventory: R2 buckets, Worker
 * routes, crons) is claimed, as the journal step claims it after a crash, never refused as
 * CONFLICT_UNOWNED. In a create-first replacement the old object still answers to the key until
 * it is deleted: it is never taken for the new one.
 */
async function createOnce(
  handler: ResourceHandler,
  ctx: HandlerContext,
  resolved: ResolvedResource,
  input: ApplyInput,
  retry: RetryPolicy,
  /** The object a create-first replacement replaces: never taken for the one being created. */
  replacing?: string,
): Promise<ObservedResource> {
  await input.journal.beginCreate(resolved);
  let attempt = 0;
  for (;;) {
    attempt++;
    try {
      return await handler.create(ctx, resolved);
    } catch (error) {
      if (error instanceof KeelsonError && error.class === 'terminal') throw error;
      if (attempt >= retry.attempts || input.signal?.aborted) throw error;
      const found = await withRetry(
        () => handler.observe(ctx, { kind: resolved.kind, names: [resolved.name], desired: [resolved] }),
        retry,
        input.signal,
      ).catch(() => undefined);
      const existing = found?.find((o) => o.key === resolved.key && o.id !== replacing);
      if (existing?.owned) return existing;
      if (existing) {
        await input.journal.claimed(resolved, existing);
        return { ...existing, owned: true };
      }
      const wait =
        error instanceof KeelsonError && error.retryAfterMs !== undefined
          ? error.retryAfterMs
          : retry.baseDelayMs * 2 ** attempt;
      await new Promise((r) => setTimeout(r, Math.min(wait, retry.maxDelayMs)));
    }
  }
}

async function settle(
  handler: ResourceHandler,
  ctx: HandlerContext,
  applied: ObservedResource,
  onSettled?: (ms: number) => void,
): Promise<{ observed: ObservedResource; unconfirmed: boolean }> {
  if (!handler.settle) return { observed: applied, unconfirmed: false };
  const t = performance.now();
  const outcome = await handler.settle(ctx, applied);
  onSettled?.(performance.now() - t);
  return { observed: applied, unconfirmed: outcome === 'unconfirmed' };
}

function describeError(error: unknown, change: ResourceChange): NonNullable<ChangeResult['error']> {
  if (error instanceof KeelsonError) {
    return {
      code: error.code,
      class: error.class,
      message: error.message,
      ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
    };
  }
  return {
    code: 'API_ERROR',
    class: 'transient',
    message: `cannot ${change.action} ${change.key}: ${errorMessage(error)}`,
  };
}

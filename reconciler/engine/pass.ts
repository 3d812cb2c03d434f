import type { HandlerContext, Logger } from '../../providers/sdk/index.ts';
import { DEFAULT_RETRY } from '../apply/retry.ts';
import type { SpecInput } from '../plan/plan.ts';
import type { ProviderRegistry } from '../providers/registry.ts';
import { SecretDigestSeal } from '../state/keyed-digests.ts';
import type { Pass, PassInput, PassResult, PassStep, StepName } from './pass-types.ts';
import { readSecrets } from './secrets.ts';
import { StateKeeper } from './state-keeper.ts';
import { applyStep } from './steps/apply.ts';
import { journalStep } from './steps/journal.ts';
import { observeStep } from './steps/observe.ts';
import { planStep } from './steps/plan.ts';
import { outcomeOf, recordStep } from './steps/record.ts';
import { stabiliseStep } from './steps/stabilise.ts';

export type { PassError, PassInput, PassResult } from './pass-types.ts';
export { summaryLine } from './steps/record.ts';

/**
 * The steps of one reconcile pass (ARCHITECTURE §3), in order. Each is a short function of the
 * shared `Pass` (steps/*.ts); a step that has nothing to do in this mode returns at once.
 */
export const PASS_STEPS: readonly (readonly [StepName, PassStep])[] = [
  ['observe', observeStep],
  ['journal', journalStep],
  ['plan', planStep],
  ['apply', applyStep],
  ['stabilise', stabiliseStep],
  ['record', recordStep],
];

/**
 * One reconcile pass: observe every kind, resolve the create journal, plan (pure), apply wave by
 * wave (garbage collection included), observe again, record. Never throws for provider failures:
 * they come back as `errors`.
 */
export async function runPass(input: PassInput): Promise<PassResult> {
  const pass = await openPass(input);
  const timings: Partial<Record<StepName | 'open' | 'settle', number>> = { open: performance.now() - pass.t0 };
  for (const [name, step] of PASS_STEPS) {
    const t = performance.now();
    await step(pass);
    timings[name] = performance.now() - t;
  }
  if (pass.settleMs > 0) timings.settle = pass.settleMs;
  return {
    revision: input.revision,
    mode: input.mode,
    plan: pass.plan,
    results: pass.results,
    unstable: pass.unstable,
    errors: pass.errors,
    unobservable: Object.fromEntries(pass.unobservable),
    outcome: outcomeOf(pass),
    ...requeue(pass),
    ...(pass.drift ? { drift: pass.drift } : {}),
    durationMs: Math.round(performance.now() - pass.t0),
    timings,
    startedAt: pass.startedAt.toISOString(),
  };
}

async function openPass(input: PassInput): Promise<Pass> {
  const startedAt = input.now?.() ?? new Date();
  const t0 = performance.now();
  const owner = input.owner ?? 'keelson';
  const keeper = await StateKeeper.open(input.store);
  const secrets = readSecrets(input.resources, input.secrets).values;
  // Digests that reach the state are keyed with the installation's key (kept outside the state).
  const digestKey = input.digestKey ?? input.store.digestKey?.();
  if (digestKey) keeper.sealSecretDigests(new SecretDigestSeal(digestKey, secrets.values()));
  const inventory = keeper.inventory();
  const signal = input.signal ?? new AbortController().signal;
  const { registry } = input;
  const context = (provider: string): HandlerContext => ({
    owner,
    log: childLog(input.log, { provider, revision: input.revision }),
    signal,
    inventory,
  });
  return {
    input,
    startedAt,
    t0,
    retry: input.retry ?? DEFAULT_RETRY,
    keeper,
    context,
    specInput: { secrets, ...specFunctions(registry), ...(digestKey ? { digestKey } : {}) },
    errors: [],
    observed: new Map(),
    unobservable: new Map(),
    lookupFailed: new Map(),
    plan: {
      revision: input.revision,
      changes: [],
      drift: [],
      summary: { create: 0, update: 0, replace: 0, delete: 0, noop: 0, skip: 0 },
    },
    results: [],
    unstable: [],
    settleMs: 0,
  };
}

/** How soon to look again when something waits and names no time (a resource still busy at the vendor). */
export const WAITING_REQUEUE_MS = 5_000;

/**
 * The shortest wait any waiting error, not-ready resource or skipped dependent asks for, or any
 * error that names a time (a rate limit's Retry-After).
 */
function requeue(pass: Pass): { requeueAfterMs?: number } {
  const waits: number[] = [];
  for (const e of pass.errors) {
    if (e.retryAfterMs !== undefined) waits.push(e.retryAfterMs);
    else if (e.class === 'waiting') waits.push(WAITING_REQUEUE_MS);
  }
  for (const r of pass.results) {
    if (r.error?.class === 'waiting') waits.push(r.error.retryAfterMs ?? WAITING_REQUEUE_MS);
  }
  if (pass.plan.changes.some((c) => c.reason === 'not-ready')) waits.push(WAITING_REQUEUE_MS);
  return waits.length > 0 ? { requeueAfterMs: Math.max(0, Math.min(...waits)) } : {};
}

/**
 * The registry's schemas and normalisers as the planner takes them: the same two functions for
 * every pass, so that what the planner prepares once per revision is found again next pass.
 */
const registryFunctions = new WeakMap<ProviderRegistry, Pick<SpecInput, 'schema' | 'normalize'>>();
function specFunctions(registry: ProviderRegistry): Pick<SpecInput, 'schema' | 'normalize'> {
  let fns = registryFunctions.get(registry);
  if (!fns) {
    fns = {
      schema: (kind) => registry.schema(kind),
      normalize: (kind, spec) => registry.handler(kind)?.normalize?.(spec) ?? spec,
    };
    registryFunctions.set(registry, fns);
  }
  return fns;
}

function childLog(log: Logger, bindings: Record<string, unknown>): Logger {
  const maybe = log as Logger & { child?: (b: Record<string, unknown>) => Logger };
  return typeof maybe.child === 'function' ? maybe.child(bindings) : log;
}

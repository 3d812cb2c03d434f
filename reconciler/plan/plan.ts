import { hash } from 'node:crypto';
import {
  applyDefaults,
  canonicalJson,
  type DesiredResource,
  diffSpec,
  ERRORS,
  type FieldChange,
  isLeftover,
  type KindSchema,
  leftoverOwner,
  type ObservedResource,
  replaceOrderOf,
  type SecretValue,
} from '../../providers/sdk/index.ts';
import { KEYED_PREFIX, keyedDigest } from './keyed-digest.ts';
import { hasReferences, hasUnknown, resolveSpec } from './resolve.ts';
import type {
  AppliedRecord,
  DriftEntry,
  Plan,
  PlanSummary,
  ResourceChange,
  SkipReason,
  UnstableRecord,
} from './types.ts';

/** Everything the planner needs, already read. The planner does no I/O, reads no clock, draws no random number. */
export interface PlanInput {
  readonly revision: string;
  readonly desired: readonly DesiredResource[];
  /** Dependency wave of each desired key (from the loader's graph). */
  readonly waveOf: ReadonlyMap<string, number>;
  /** Live state by key: every owned resource, plus unowned ones whose names Git wants. */
  readonly observed: ReadonlyMap<string, ObservedResource>;
  /** Kinds whose live state could not be read this pass, and why (provider unavailable, observe failed). */
  readonly unobservable: ReadonlyMap<string, string>;
  /**
   * Desired resources a look-up failed for while observing (a zone or an image that does not
   * exist), and why: skipped, never created nor replaced (a typo must not delete the old object).
   */
  readonly lookupFailed?: ReadonlyMap<string, string>;
  readonly schema: (kind: string) => KindSchema | undefined;
  /** The handler's normaliser (identity when it has none). */
  readonly normalize: (kind: string, spec: Record<string, unknown>) => Record<string, unknown>;
  readonly secrets: ReadonlyMap<string, SecretValue>;
  /** What keelson last applied, by key (from the state store). */
  readonly applied: Readonly<Record<string, AppliedRecord>>;
  readonly unstable?: Readonly<Record<string, UnstableRecord>>;
  /** Most deletes allowed in one pass before the plan is refused. Default 5. */
  readonly deletionBudget?: number;
  /** Position of a kind in its provider's dependency order (deletes run in reverse). Default 0. */
  readonly kindOrder?: (kind: string) => number;
  /**
   * The per-installation key applied digests are made with (`keyedDigest`), so that the state does
   * not hold a bare hash of anything derived from a secret. Default none (bare sha256).
   */
  readonly digestKey?: Buffer;
}

export const DEFAULT_DELETION_BUDGET = 5;

/** What turns a desired spec into the spec a handler sees: secrets, schemas, normalisers. */
export type SpecInput = Pick<PlanInput, 'secrets' | 'schema' | 'normalize' | 'digestKey'>;

/** The desired spec as the handler will see it: defaults applied, references resolved, normalised. */
export function desiredSpec(
  input: Pick<PlanInput, 'observed' | 'secrets' | 'schema' | 'normalize'>,
  r: DesiredResource,
): DesiredSpec {
  // A spec without references depends on nothing live: it is prepared once per revision (per
  // resource object and normaliser), however many passes and steps ask for it.
  if (hasReferences(r.spec)) return prepare(input, r);
  let forNormalizer = prepared.get(input.normalize);
  if (!forNormalizer) {
    forNormalizer = new WeakMap();
    prepared.set(input.normalize, forNormalizer);
  }
  let done = forNormalizer.get(r);
  if (!done) {
    done = prepare(input, r);
    forNormalizer.set(r, done);
  }
  return done;
}

export interface DesiredSpec {
  /** Treated as immutable (it may be shared between passes). */
  readonly spec: Record<string, unknown>;
  readonly missingSecrets: readonly string[];
  readonly unknownFrom: readonly string[];
  /** `specDigest(spec, digestFor)`, once asked for (`desiredDigest`). */
  digest?: string;
  digestFor?: Buffer;
}

const prepared = new WeakMap<PlanInput['normalize'], WeakMap<DesiredResource, DesiredSpec>>();

function prepare(
  input: Pick<PlanInput, 'observed' | 'secrets' | 'schema' | 'normalize'>,
  r: DesiredResource,
): DesiredSpec {
  const schema = input.schema(r.kind);
  const resolved = resolveSpec(r.spec, { observed: input.observed, secrets: input.secrets });
  const withDefaults = schema ? applyDefaults(schema.spec, resolved.spec) : resolved.spec;
  return { ...resolved, spec: input.normalize(r.kind, withDefaults) };
}

/**
 * The digest of a spec's canonical JSON (secrets by digest): what "applied" records compare. Keyed
 * (HMAC-SHA256 with the installation key, `hmac-sha256:` prefix) when a key is given, else sha256.
 */
export function specDigest(spec: Readonly<Record<string, unknown>>, key?: Buffer): string {
  const text = canonicalJson(spec);
  return key ? keyedDigest(key, text) : hash('sha256', text, 'hex');
}

/** The digest of a prepared spec, computed once for a spec prepared once. */
export function desiredDigest(want: DesiredSpec, key?: Buffer): string {
  if (want.digest === undefined || want.digestFor !== key) {
    want.digest = specDigest(want.spec, key);
    want.digestFor = key;
  }
  return want.digest;
}

/**
 * Whether a recorded digest is this desired spec's. A record from before keyed digests (a bare
 * sha256, no prefix) is compared as it was made, so that an upgrade is no Git change and no drift;
 * the pass then records the keyed digest.
 */
export function sameDigest(recorded: string | undefined, want: DesiredSpec, key?: Buffer): boolean {
  if (recorded === undefined) return false;
  if (recorded === desiredDigest(want, key)) return true;
  return key !== undefined && !recorded.startsWith(KEYED_PREFIX) && recorded === specDigest(want.spec);
}

/** sha256 of a normalised field diff: the same drift gives the same fingerprint. */
export function driftFingerprint(key: string, fields: readonly FieldChange[]): string {
  const parts = fields
    .map((f) => ({ path: f.path, before: f.before, after: f.after }))
    .sort((a, b) => a.path.localeCompare(b.path));
  return hash('sha256', canonicalJson({ key, fields: parts }), 'hex');
}

/**
 * Compares desired with live state and decides, per resource, create / update / replace / delete /
 * no-op / skip. Pure and synchronous (changesets' assemble-release-plan): same input, same plan.
 */
export function planChanges(input: PlanInput): Plan {
  const changes: ResourceChange[] = [];
  const drift: DriftEntry[] = [];
  const { ordered, keys: desiredKeys } = orderOf(input.desired, input.waveOf);
  // Resources that will not exist after this pass: their dependents cannot be created either.
  const blocked = new Set<string>();

  for (const { r, wave } of ordered) {
    const schema = input.schema(r.kind);
    const observed = input.observed.get(r.key);
    const base = { key: r.key, kind: r.kind, name: r.name, provider: r.provider, wave } as const;
    const skip = (
      reason: SkipReason,
      detail: string,
      fields: readonly FieldChange[] = [],
      cause: ResourceChange['cause'] = 'git',
    ): void => {
      changes.push({ ...base, action: 'skip', reason, detail, fields, cause });
      if (!observed) blocked.add(r.key);
    };

    const unobservable = input.unobservable.get(r.kind);
    if (unobservable !== undefined) {
      skip('provider-unavailable', `cannot read ${r.kind}: ${unobservable}`);
      blocked.add(r.key);
      continue;
    }
    if (r.buildError !== undefined) {
      skip('build-failed', r.buildError);
      continue;
    }
    const lookup = input.lookupFailed?.get(r.key);
    if (lookup !== undefined) {
      skip('lookup-failed', `${r.key}: ${lookup}`);
      blocked.add(r.key);
      continue;
    }
    if (schema?.readOnly) {
      if (observed) changes.push({ ...base, action: 'no-op', fields: [], cause: 'git', reason: 'read-only' });
      else skip('not-found', `${r.key} matches nothing at the provider; check its selector`);
      continue;
    }
    if (r.policy === 'paused') {
      skip('paused', `${r.key} is paused: keelson leaves it alone`);
      continue;
    }
    const failedDep = r.dependsOn.find((d) => blocked.has(d));
    const want = desiredSpec(input, r);
    const applied = input.applied[r.key];
    const gitUnchanged = applied !== undefined && sameDigest(applied.digest, want, input.digestKey);

    if (want.missingSecrets.length > 0) {
      skip(
        'missing-secret',
        `${r.key} needs secret ${want.missingSecrets.map((s) => `"${s}"`).join(', ')}, which keelson was not given`,
      );
      continue;
    }

    if (!observed) {
      if (gitUnchanged) {
        drift.push({
          ...base,
          policy: r.policy,
          type: 'missing',
          fields: [],
          fingerprint: driftFingerprint(r.key, []),
        });
      }
      if (r.policy === 'observe') {
        skip(
          'observe-policy',
          `${r.key} does not exist; policy observe: not created`,
          [],
          gitUnchanged ? 'drift' : 'git',
        );
        continue;
      }
      if (failedDep) {
        skip('dependency-failed', `${r.key} depends on ${failedDep}, which will not exist after this pass`);
        continue;
      }
      // A create shows what the user wrote (references resolved), not every defaulted field.
      const written = resolveSpec(r.spec, { observed: input.observed, secrets: input.secrets }).spec;
      changes.push({
        ...base,
        action: 'create',
        fields: createFields(schema, written),
        cause: gitUnchanged ? 'drift' : 'git',
      });
      continue;
    }

    if (!observed.owned && !r.adopt) {
      skip('unowned', ERRORS.CONFLICT_UNOWNED.message(r.key, observed.id));
      continue;
    }

    let fields = schema ? diffSpec(schema.spec, want.spec, observed.spec) : [];
    const unstable = input.unstable?.[r.key];
    let ignored: string[] = [];
    if (unstable && sameDigest(unstable.digest, want, input.digestKey)) {
      ignored = fields.filter((f) => unstable.fields.includes(f.path)).map((f) => f.path);
      fields = fields.filter((f) => !unstable.fields.includes(f.path));
    }
    const adopting = !observed.owned && r.adopt;
    if (fields.length === 0 && !adopting) {
      changes.push({
        ...base,
        action: 'no-op',
        fields: [],
        cause: 'git',
        ...(ignored.length
          ? { detail: `ignoring unstable field ${ignored.join(', ')} (the provider rewrites it)` }
          : {}),
      });
      continue;
    }
    const cause: ResourceChange['cause'] = gitUnchanged ? 'drift' : 'git';
    if (gitUnchanged) {
      drift.push({ ...base, policy: r.policy, type: 'changed', fields, fingerprint: driftFingerprint(r.key, fields) });
    }
    if (r.policy === 'observe') {
      skip('observe-policy', `${r.key} differs from Git; policy observe: reported, not changed`, fields, cause);
      continue;
    }
    if (!observed.ready) {
      skip(
        'not-ready',
        `${r.key} is still busy at the provider${observed.message ? ` (${observed.message})` : ''}; trying again next pass`,
        fields,
        cause,
      );
      continue;
    }
    // The vendor undid this very spec (Swarm rolled the update back): sending it again would only
    // be undone again, taking the service through a failed rollout each pass. Held until Git changes it.
    const undone = observed.rolledBack;
    if (undone && schema && diffSpec(schema.spec, want.spec, undone.spec).length === 0) {
      skip(
        'rolled-back',
        `${r.key}: the update to this spec failed and was rolled back (${undone.message}); keelson does not send it again until the resource changes in Git`,
        fields,
        cause,
      );
      continue;
    }
    const replace = fields.some((f) => f.forcesReplacement);
    if (replace && schema?.stateful && !r.allowReplace) {
      const which = fields.filter((f) => f.forcesReplacement).map((f) => f.path);
      skip('replace-refused', ERRORS.REPLACE_REFUSED.message(r.key, which), fields, cause);
      continue;
    }
    if (failedDep && (replace || hasUnknown(want.spec))) {
      skip(
        'dependency-failed',
        `${r.key} depends on ${failedDep}, which will not exist after this pass`,
        fields,
        cause,
      );
      continue;
    }
    const order = replace ? replaceOrderOf(schema, observed.spec, want.spec) : undefined;
    changes.push({
      ...base,
      action: replace ? 'replace' : 'update',
      fields,
      cause,
      ...(adopting ? { detail: `adopting ${r.key} (id ${observed.id}): keelson will own it from now on` } : {}),
      ...(order ? { replaceOrder: order.order, replaceWhy: order.why } : {}),
    });
  }

  // Prune: owned resources that left Git.
  let maxWave = 0;
  for (const c of changes) if (c.wave > maxWave) maxWave = c.wave;
  const order = input.kindOrder ?? (() => 0);
  const prunable = [...input.observed.values()]
    .filter((o) => o.owned && !desiredKeys.has(o.key) && !input.schema(o.kind)?.readOnly)
    .sort((a, b) => order(b.kind) - order(a.kind) || collate(a.key, b.key));
  const deletes: ResourceChange[] = [];
  for (const o of prunable) {
    const base = {
      key: o.key,
      kind: o.kind,
      name: o.name,
      provider: o.kind.split('.')[0] ?? o.kind,
      fields: [],
      cause: 'prune' as const,
    };
    const wave = maxWave + 1 + (order(prunable[0]?.kind ?? '') - order(o.kind));
    if (o.protect || input.applied[o.key]?.protect) {
      changes.push({
        ...base,
        wave,
        action: 'skip',
        reason: 'protected',
        detail: `${o.key} is no longer in Git but is protected: kept`,
      });
      continue;
    }
    // The old object of a create-first replacement goes only once the new one is ready (an index
    // still building): until then it is what serves.
    const replacement = isLeftover(o.key) ? input.observed.get(`${o.kind}/${leftoverOwner(o.name)}`) : undefined;
    if (replacement && desiredKeys.has(replacement.key) && !replacement.ready) {
      changes.push({
        ...base,
        wave,
        action: 'skip',
        reason: 'not-ready',
        detail: `${o.key} is kept until ${replacement.key}, which replaces it, is ready${replacement.message ? ` (${replacement.message})` : ''}`,
      });
      continue;
    }
    const detail = isLeftover(o.key)
      ? (o.message ?? `${o.key} was left over by a replacement`)
      : `${o.key} is no longer in Git`;
    deletes.push({ ...base, wave, action: 'delete', detail });
  }
  changes.push(...deletes);

  // A replacement deletes too (the old object goes, whatever comes after it): it counts.
  const budget = input.deletionBudget ?? DEFAULT_DELETION_BUDGET;
  const destroying = deletes.length + changes.filter((c) => c.action === 'replace').length;
  const refused =
    destroying > budget
      ? {
          code: 'deletion-budget' as const,
          message: ERRORS.DELETION_BUDGET.message(destroying, budget),
        }
      : undefined;

  return { revision: input.revision, changes, drift, summary: summarize(changes), ...(refused ? { refused } : {}) };
}

function createFields(schema: KindSchema | undefined, spec: Readonly<Record<string, unknown>>): FieldChange[] {
  return Object.entries(spec).map(([path, after]) => ({
    path,
    before: undefined,
    after,
    sensitive: schema?.spec[path]?.sensitive === true || schema?.spec[path]?.type === 'secret',
    forcesReplacement: false,
    unknown: hasUnknown(after),
  }));
}

export function summarize(changes: readonly ResourceChange[]): PlanSummary {
  const s = { create: 0, update: 0, replace: 0, delete: 0, noop: 0, skip: 0 };
  for (const c of changes) s[c.action === 'no-op' ? 'noop' : c.action]++;
  return s;
}

/** The order of `localeCompare` (the default locale), from one collator instead of one per call. */
const collate = new Intl.Collator().compare;

interface Order {
  readonly waveOf: ReadonlyMap<string, number>;
  readonly ordered: readonly { readonly r: DesiredResource; readonly wave: number }[];
  readonly keys: ReadonlySet<string>;
}

/** Desired resources by wave, then key; the same list and waves (every pass of a revision) sort once. */
const orders = new WeakMap<readonly DesiredResource[], Order>();
function orderOf(desired: readonly DesiredResource[], waveOf: ReadonlyMap<string, number>): Order {
  const known = orders.get(desired);
  if (known && known.waveOf === waveOf) return known;
  const ordered = desired
    .map((r) => ({ r, wave: waveOf.get(r.key) ?? 0 }))
    .sort((a, b) => a.wave - b.wave || collate(a.r.key, b.r.key));
  const order = { waveOf, ordered, keys: new Set(desired.map((r) => r.key)) };
  orders.set(desired, order);
  return order;
}

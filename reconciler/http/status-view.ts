import { posix } from 'node:path';
import type { FieldChange } from '../../providers/sdk/index.ts';
import { showValue } from '../alerts/alert.ts';
import type { Diagnostic } from '../desired/diagnostic.ts';
import type { DaemonStatusData } from '../loop/daemon-status.ts';
import type { ResourceChange } from '../plan/types.ts';

/** What the last pass made of a managed resource, in words a page can show. */
export type ResourceState =
  | 'in sync'
  | 'created'
  | 'updated'
  | 'replaced'
  | 'deleted'
  | 'healed'
  | 'drifted'
  | 'failed'
  | 'skipped'
  | 'planned';

/** The path of a diagnostic's file from the repository root (`desired-state/swarm/demo.yaml`). */
export function repositoryPath(file: string | undefined, sourcePath: string | undefined): string | undefined {
  if (file === undefined || sourcePath === undefined || posix.isAbsolute(file)) return file;
  return posix.normalize(posix.join(sourcePath, file));
}

const DONE: Record<string, ResourceState> = {
  create: 'created',
  update: 'updated',
  replace: 'replaced',
  delete: 'deleted',
};

interface FieldView {
  readonly path: string;
  readonly before: string;
  readonly after: string;
}

/**
 * `/status` as JSON. Plans carry raw values (renderers redact, see plan/types.ts): every field
 * value goes through `showValue`, so a sensitive one is `(sensitive)` here.
 */
export function statusView(status: DaemonStatusData) {
  const fields = (list: readonly FieldChange[]): FieldView[] =>
    list.map((f) => ({ path: f.path, before: showValue(f, f.before), after: showValue(f, f.after) }));
  const plan = status.lastPlan;
  const failedKeys = new Map(status.lastErrors.filter((e) => e.resource).map((e) => [e.resource, e.message]));
  const drifted = new Map(status.drifted.map((d) => [d.key, d]));
  /** What happened to a resource in a pass (apply mode: the change was made unless it failed). */
  const stateOf = (c: ResourceChange): ResourceState => {
    if (failedKeys.has(c.key)) return 'failed';
    if (c.action === 'skip') return 'skipped';
    if (c.action === 'no-op') return drifted.has(c.key) ? 'drifted' : 'in sync';
    if (status.mode !== 'apply') return 'planned';
    return c.cause === 'drift' ? 'healed' : (DONE[c.action] ?? 'updated');
  };
  const diagnostic = (d: Diagnostic): Diagnostic => ({ ...d, file: repositoryPath(d.file, status.sourcePath) });
  return {
    revision: status.revision ?? null,
    /** `applying` from the moment a new revision is loaded until a pass over it succeeds. */
    revisionState:
      status.revision === undefined ? 'none' : status.appliedRevision === status.revision ? 'applied' : 'applying',
    appliedRevision: status.appliedRevision ?? null,
    fetchedRevision: status.fetchedRevision ?? null,
    refusedRevisions: status.refusedRevisions,
    mode: status.mode,
    ready: status.conditions.find((c) => c.type === 'Ready')?.status === 'True',
    stalled: status.stalled,
    lease: status.lease ?? null,
    links: status.links,
    conditions: status.conditions,
    lastFetchAt: status.lastFetchAt ?? null,
    lastObserveAt: status.lastObserveAt ?? null,
    lastSuccessAt: status.lastSuccessAt ?? null,
    passes: status.passes,
    lastPlan: plan
      ? {
          revision: plan.revision,
          summary: plan.summary,
          refused: plan.refused ?? null,
          changes: plan.changes
            .filter((c) => c.action !== 'no-op')
            .map((c) => ({
              key: c.key,
              action: c.action,
              cause: c.cause,
              wave: c.wave,
              ...(c.reason ? { reason: c.reason } : {}),
              ...(c.detail ? { detail: c.detail } : {}),
              fields: fields(c.fields),
            })),
        }
      : null,
    drifted: status.drifted.map((d) => {
      const entry = plan?.drift.find((e) => e.key === d.key);
      return {
        key: d.key,
        policy: d.policy,
        fingerprint: d.fingerprint,
        firstSeen: d.firstSeen,
        lastSeen: d.lastSeen,
        observations: d.observations,
        alerted: d.alertedAt !== undefined,
        type: entry?.type ?? 'changed',
        fields: entry ? fields(entry.fields) : d.fields.map((path) => ({ path, before: '', after: '' })),
      };
    }),
    /** Every resource of the last pass, with what the pass made of it. */
    resources: (plan?.changes ?? []).map((c) => ({
      key: c.key,
      state: stateOf(c),
      action: c.action,
      ...(failedKeys.has(c.key) ? { error: failedKeys.get(c.key) } : {}),
      ...(c.action === 'skip' && c.detail ? { detail: c.detail } : {}),
    })),
    /** The last pass that changed something, and what it changed (drift it healed says so). */
    lastChange: status.lastChange
      ? {
          revision: status.lastChange.revision,
          at: status.lastChange.at,
          summary: status.lastChange.plan.summary,
          changes: status.lastChange.plan.changes
            .filter((c) => DONE[c.action])
            .map((c) => ({
              key: c.key,
              action: c.action,
              cause: c.cause,
              state: c.cause === 'drift' ? ('healed' as const) : (DONE[c.action] as ResourceState),
              /** The change also undid a difference keelson did not cause (drift found in that pass). */
              healedDrift: c.cause === 'drift' || (status.lastChange?.plan.drift.some((d) => d.key === c.key) ?? false),
              fields: fields(c.fields),
            })),
        }
      : null,
    lastErrors: status.lastErrors,
    diagnostics: status.diagnostics.map(diagnostic),
    unavailableProviders: status.unavailableProviders,
  };
}

export type StatusView = ReturnType<typeof statusView>;

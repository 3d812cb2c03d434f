import type { FieldChange } from '../../providers/sdk/index.ts';
import { showValue } from '../alerts/alert.ts';
import type { DaemonStatusData } from '../loop/daemon-status.ts';

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
  return {
    revision: status.revision ?? null,
    fetchedRevision: status.fetchedRevision ?? null,
    refusedRevisions: status.refusedRevisions,
    mode: status.mode,
    ready: status.conditions.find((c) => c.type === 'Ready')?.status === 'True',
    stalled: status.stalled,
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
    lastErrors: status.lastErrors,
    diagnostics: status.diagnostics,
    unavailableProviders: status.unavailableProviders,
  };
}

export type StatusView = ReturnType<typeof statusView>;

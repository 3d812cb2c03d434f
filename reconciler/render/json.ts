import type { FieldChange } from '../../providers/sdk/index.ts';
import type { Diagnostic } from '../desired/diagnostic.ts';
import type { PassResult } from '../engine/pass.ts';
import type { Plan } from '../plan/types.ts';
import { displayField } from './redact.ts';

/** Version of the JSON plan format; the major is bumped on any incompatible change (1.1: replacement order). */
export const PLAN_FORMAT_VERSION = '1.1';

/**
 * The machine-readable plan (modelled on `terraform show -json`): `changes[]` with `actions` as an
 * array, and `drift[]` (differences keelson did not cause) kept apart. Sensitive values are redacted.
 */
export function planToJson(
  plan: Plan,
  extra: { errors?: PassResult['errors']; diagnostics?: readonly Diagnostic[] } = {},
): object {
  return {
    format_version: PLAN_FORMAT_VERSION,
    revision: plan.revision,
    refused: plan.refused ?? null,
    summary: plan.summary,
    changes: plan.changes.map((c) => ({
      address: c.key,
      kind: c.kind,
      name: c.name,
      provider: c.provider,
      actions: actionsOf(c),
      // A replacement's order, and why (Terraform's create_before_destroy: actions ["create", "delete"]).
      replace_order: c.replaceOrder ?? null,
      replace_reason: c.replaceWhy ?? null,
      cause: c.cause,
      wave: c.wave,
      reason: c.reason ?? null,
      detail: c.detail ?? null,
      fields: c.fields.map(fieldJson),
    })),
    drift: plan.drift.map((d) => ({
      address: d.key,
      kind: d.kind,
      name: d.name,
      provider: d.provider,
      policy: d.policy,
      type: d.type,
      fingerprint: d.fingerprint,
      fields: d.fields.map(fieldJson),
    })),
    errors: extra.errors ?? [],
    diagnostics: extra.diagnostics ?? [],
  };
}

function actionsOf(change: Plan['changes'][number]): string[] {
  const { action } = change;
  switch (action) {
    case 'replace':
      return change.replaceOrder === 'create-first' ? ['create', 'delete'] : ['delete', 'create'];
    case 'no-op':
      return ['no-op'];
    default:
      return [action];
  }
}

function fieldJson(f: FieldChange): object {
  const shown = displayField(f);
  return {
    path: f.path,
    before: shown.before ?? null,
    after: shown.after ?? null,
    sensitive: f.sensitive,
    forces_replacement: f.forcesReplacement,
    after_unknown: f.unknown,
  };
}

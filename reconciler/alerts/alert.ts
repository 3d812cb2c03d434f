import { canonicalJson, type FieldChange, isSecretDigest, REDACTED, SecretValue } from '../../providers/sdk/index.ts';
import type { DriftEvent } from '../drift/track-drift.ts';

/** A drift alert as channels render it. Values are already redacted. */
export interface Alert {
  readonly type: 'opened' | 'reminder' | 'resolved';
  readonly key: string;
  readonly kind: string;
  readonly name: string;
  readonly provider: string;
  readonly policy: string;
  readonly fingerprint: string;
  readonly fields: readonly { readonly path: string; readonly before?: string; readonly after?: string }[];
  readonly firstSeen: string;
  readonly observations: number;
  readonly revision: string;
  readonly statusUrl: string;
  readonly at: string;
}

/** Turns a drift event into an alert. Sensitive values become `(sensitive)` here, before any channel sees them. */
export function alertFromEvent(event: DriftEvent, revision: string, statusUrl: string, at: Date): Alert {
  const slash = event.record.key.indexOf('/');
  const kind = event.record.key.slice(0, slash);
  const fields =
    event.type === 'resolved'
      ? event.record.fields.map((path) => ({ path }))
      : event.entry.fields.map((f) => ({ path: f.path, before: showValue(f, f.before), after: showValue(f, f.after) }));
  return {
    type: event.type,
    key: event.record.key,
    kind,
    name: event.record.key.slice(slash + 1),
    provider: kind.includes('.') ? kind.slice(0, kind.indexOf('.')) : kind,
    policy: event.record.policy,
    fingerprint: event.record.fingerprint,
    fields,
    firstSeen: event.record.firstSeen,
    observations: event.record.observations,
    revision,
    statusUrl,
    at: at.toISOString(),
  };
}

/** A field value as people may see it: `(sensitive)` for secrets, `(absent)` for nothing, JSON otherwise. */
export function showValue(field: Pick<FieldChange, 'sensitive'>, value: unknown): string {
  if (field.sensitive || value instanceof SecretValue || isSecretDigest(value)) return REDACTED;
  if (value === undefined) return '(absent)';
  const text = typeof value === 'string' ? value : canonicalJson(value);
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}

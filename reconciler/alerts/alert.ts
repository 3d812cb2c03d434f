import { createHash } from 'node:crypto';
import { canonicalJson, type FieldChange, isSecretDigest, REDACTED, SecretValue } from '../../providers/sdk/index.ts';
import type { DriftEvent } from '../drift/track-drift.ts';

/** A drift alert as channels render it. Values are already redacted. */
export interface Alert {
  /**
   * Stable message id: the same on every delivery attempt and after a restart, so a receiver can
   * drop a duplicate (delivery is at least once).
   */
  readonly id: string;
  /**
   * `opened` (seen N passes in a row), `reminder`, `resolved` (gone), `changed` (the same resource
   * drifted differently: a new fingerprint while an alert was open), `healed` (a hand edit that
   * keelson put back in the same pass, under `enforce`).
   */
  readonly type: 'opened' | 'reminder' | 'resolved' | 'changed' | 'healed';
  readonly key: string;
  readonly kind: string;
  readonly name: string;
  readonly provider: string;
  readonly policy: string;
  readonly fingerprint: string;
  /** For `changed`: the fingerprint the open alert had before. */
  readonly previousFingerprint?: string;
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
  const alert = {
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
    ...(event.type === 'changed' ? { previousFingerprint: event.previous.fingerprint } : {}),
  };
  return { id: alertId(alert), ...alert };
}

/** The id of an alert message: a digest of what makes it one message (type, resource, fingerprint, time). */
export function alertId(alert: Pick<Alert, 'type' | 'key' | 'fingerprint' | 'at'>): string {
  return createHash('sha256')
    .update(`${alert.type}\n${alert.key}\n${alert.fingerprint}\n${alert.at}`)
    .digest('hex')
    .slice(0, 32);
}

/** A field value as people may see it: `(sensitive)` for secrets, `(absent)` for nothing, JSON otherwise. */
export function showValue(field: Pick<FieldChange, 'sensitive'>, value: unknown): string {
  if (field.sensitive || value instanceof SecretValue || isSecretDigest(value)) return REDACTED;
  if (value === undefined) return '(absent)';
  const text = typeof value === 'string' ? value : canonicalJson(value);
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}

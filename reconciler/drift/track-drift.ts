import type { DriftEntry } from '../plan/types.ts';
import type { DriftRecord } from '../state/types.ts';

/** Hysteresis and reminders for drift alerts. Defaults: open after 2 observations, remind every 24 h. */
export interface DriftAlertPolicy {
  /** Consecutive passes a fingerprint must be seen before its alert opens. Default 2. */
  readonly afterObservations: number;
  /** An open alert is repeated after this long. Default 24 h. */
  readonly reminderMs: number;
}

/** Something to tell people about a drift. */
export type DriftEvent =
  | { readonly type: 'opened'; readonly record: DriftRecord; readonly entry: DriftEntry }
  | { readonly type: 'reminder'; readonly record: DriftRecord; readonly entry: DriftEntry }
  | { readonly type: 'resolved'; readonly record: DriftRecord };

export interface DriftUpdate {
  readonly records: Record<string, DriftRecord>;
  readonly events: DriftEvent[];
}

/**
 * Folds one pass's drift into the stored drift records. Pure (the clock is passed in), so the
 * state it returns can be saved before any alert is sent: a restart never sends one twice.
 * - a fingerprint seen again counts up; a new fingerprint for the same resource starts over (and
 *   resolves the alert of the old one, if it was sent);
 * - `paused` resources are recorded but never alerted;
 * - a record whose resource was not observed this pass (`unobserved`, e.g. its provider failed)
 *   is kept as it is: not seeing a drift is not the same as seeing it gone.
 */
export function trackDrift(
  previous: Readonly<Record<string, DriftRecord>>,
  drift: readonly DriftEntry[],
  now: Date,
  policy: DriftAlertPolicy,
  unobserved: (key: string) => boolean = () => false,
): DriftUpdate {
  const at = now.toISOString();
  const records: Record<string, DriftRecord> = {};
  const events: DriftEvent[] = [];
  const seen = new Set<string>();
  for (const entry of drift) {
    seen.add(entry.key);
    const prev = previous[entry.key];
    const same = prev !== undefined && prev.fingerprint === entry.fingerprint;
    if (prev && !same && prev.alertedAt) events.push({ type: 'resolved', record: prev });
    let record: DriftRecord = {
      key: entry.key,
      fingerprint: entry.fingerprint,
      observations: same ? prev.observations + 1 : 1,
      firstSeen: same ? prev.firstSeen : at,
      lastSeen: at,
      fields: entry.fields.map((f) => f.path),
      policy: entry.policy,
      ...(same && prev.alertedAt ? { alertedAt: prev.alertedAt } : {}),
      ...(same && prev.lastReminderAt ? { lastReminderAt: prev.lastReminderAt } : {}),
    };
    if (entry.policy !== 'paused') {
      if (!record.alertedAt && record.observations >= policy.afterObservations) {
        record = { ...record, alertedAt: at };
        events.push({ type: 'opened', record, entry });
      } else if (record.alertedAt) {
        const last = Date.parse(record.lastReminderAt ?? record.alertedAt);
        if (now.getTime() - last >= policy.reminderMs) {
          record = { ...record, lastReminderAt: at };
          events.push({ type: 'reminder', record, entry });
        }
      }
    }
    records[entry.key] = record;
  }
  for (const [key, prev] of Object.entries(previous)) {
    if (seen.has(key)) continue;
    if (unobserved(key)) {
      records[key] = prev;
      continue;
    }
    if (prev.alertedAt) events.push({ type: 'resolved', record: prev });
  }
  return { records, events };
}

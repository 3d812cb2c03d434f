import type { DriftEntry } from '../plan/types.ts';
import type { DriftRecord, HealedRecord } from '../state/types.ts';

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
  | { readonly type: 'resolved'; readonly record: DriftRecord }
  | {
      readonly type: 'changed';
      readonly record: DriftRecord;
      readonly entry: DriftEntry;
      readonly previous: DriftRecord;
    }
  | { readonly type: 'healed'; readonly record: DriftRecord; readonly entry: DriftEntry };

export interface DriftUpdate {
  readonly records: Record<string, DriftRecord>;
  readonly events: DriftEvent[];
  /** Fingerprints announced as healed, per resource key (kept for `reminderMs`, so a repeat is not news). */
  readonly healed: Record<string, HealedRecord>;
}

/** What else `trackDrift` needs to know about the pass. */
export interface DriftPassFacts {
  /** Resources whose live state could not be read this pass (their provider failed). */
  readonly unobserved?: (key: string) => boolean;
  /** Resources keelson changed successfully in this pass: a drift on them under `enforce` was healed. */
  readonly applied?: (key: string) => boolean;
  /** Healed announcements made before (from the state store). */
  readonly healed?: Readonly<Record<string, HealedRecord>>;
}

/**
 * Folds one pass's drift into the stored drift records. Pure (the clock is passed in), so the
 * state it returns can be saved before any alert is sent: a restart never sends one twice.
 * - a fingerprint seen again counts up; a new fingerprint for the same resource starts over; when
 *   the old one's alert was open, that is announced as `changed` (not `resolved`) and the alert stays open;
 * - a drift under `enforce` that keelson healed in this very pass is announced once as `healed`
 *   (someone changed production by hand) instead of opening an alert, whatever the observation
 *   threshold; the same fingerprint on the same resource is not announced again within
 *   `reminderMs`, and if it keeps coming back the usual alert opens at the threshold;
 * - `paused` resources are recorded but never alerted;
 * - a record whose resource was not observed this pass (`unobserved`, e.g. its provider failed)
 *   is kept as it is: not seeing a drift is not the same as seeing it gone.
 */
export function trackDrift(
  previous: Readonly<Record<string, DriftRecord>>,
  drift: readonly DriftEntry[],
  now: Date,
  policy: DriftAlertPolicy,
  facts: DriftPassFacts = {},
): DriftUpdate {
  const unobserved = facts.unobserved ?? (() => false);
  const at = now.toISOString();
  const records: Record<string, DriftRecord> = {};
  const events: DriftEvent[] = [];
  const healed: Record<string, HealedRecord> = {};
  for (const [key, h] of Object.entries(facts.healed ?? {}))
    if (now.getTime() - Date.parse(h.at) < policy.reminderMs) healed[key] = h;
  const seen = new Set<string>();
  for (const entry of drift) {
    seen.add(entry.key);
    const prev = previous[entry.key];
    const same = prev !== undefined && prev.fingerprint === entry.fingerprint;
    const changed = prev !== undefined && !same && prev.alertedAt !== undefined;
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
    if (changed && entry.policy !== 'paused') {
      record = { ...record, alertedAt: at };
      events.push({ type: 'changed', record, entry, previous: prev });
    } else if (changed) {
      events.push({ type: 'resolved', record: prev });
    }
    if (
      entry.policy === 'enforce' &&
      !record.alertedAt &&
      facts.applied?.(entry.key) &&
      healed[entry.key]?.fingerprint !== entry.fingerprint
    ) {
      // Put back in this very pass: announced as healed instead of opening an alert (nothing is open).
      healed[entry.key] = { fingerprint: entry.fingerprint, at };
      events.push({ type: 'healed', record, entry });
      records[entry.key] = record;
      continue;
    }
    if (entry.policy !== 'paused' && !changed) {
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
  return { records, events, healed };
}

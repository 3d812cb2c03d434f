import type { InventoryEntry } from '../../providers/sdk/index.ts';
import type { Alert } from '../alerts/alert.ts';
import type { AppliedRecord, UnstableRecord } from '../plan/types.ts';

// The plan owns the records it reads; the store keeps them.
export type { AppliedRecord, UnstableRecord };

/** What keelson remembers between passes and across restarts (ARCHITECTURE §5). */
export interface StateData {
  readonly version: 1;
  /** Owned resources that cannot carry labels, and provider data such as secret digests. */
  inventory: Record<string, InventoryEntry>;
  /** Per resource key: what keelson last applied, so drift (not caused by keelson) can be told apart from a change in Git. */
  applied: Record<string, AppliedRecord>;
  /** Create journal: an entry is written before a non-idempotent create and removed once it is recorded. */
  journal: Record<string, JournalEntry>;
  /** Drift and alert state per resource key (owned by the drift/alert module). */
  drift: Record<string, DriftRecord>;
  /** Last few passes, newest last. */
  runs: RunRecord[];
  /** Fields that still differed right after an apply (the API rewrites them): reported once, not re-applied. */
  unstable?: Record<string, UnstableRecord>;
  /** The last revision that loaded cleanly (and passed signature verification, when it was on): in effect after a restart. */
  lastGood?: LastGoodRecord;
  /** Alert messages not yet accepted by their receiver, per channel: delivered at least once, across restarts. */
  outbox?: Record<string, OutboxMessage[]>;
  /** Per resource key: the last drift fingerprint announced as healed, so one hand edit is announced once. */
  healed?: Record<string, HealedRecord>;
}

export interface LastGoodRecord {
  readonly revision: string;
  /** The signing key's fingerprint when signatures were verified; absent when verification was off. */
  readonly verifiedKey?: string;
  readonly at: string;
}

export interface OutboxMessage {
  /** Stable message id (the same on every delivery attempt), so a receiver can drop duplicates. */
  readonly id: string;
  readonly alert: Alert;
  readonly queuedAt: string;
}

export interface HealedRecord {
  readonly fingerprint: string;
  readonly at: string;
}

export interface JournalEntry {
  readonly key: string;
  readonly kind: string;
  readonly name: string;
  readonly state: 'creating';
  readonly revision: string;
  readonly at: string;
}

export interface DriftRecord {
  readonly key: string;
  /** sha256 of the normalised field diff. */
  readonly fingerprint: string;
  /** Consecutive passes this fingerprint has been seen. */
  readonly observations: number;
  readonly firstSeen: string;
  readonly lastSeen: string;
  /** When the alert was opened (sent), if it was. */
  readonly alertedAt?: string;
  readonly lastReminderAt?: string;
  readonly fields: readonly string[];
  readonly policy: string;
}

export interface RunRecord {
  readonly revision: string;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly result: 'success' | 'no-op' | 'failed' | 'invalid' | 'refused';
  readonly summary: string;
}

/** A backend for `StateData`: the embedded file (default) or Firestore. */
export interface StateStore {
  load(): Promise<StateData>;
  /** Durable when it resolves (write, fsync, rename for the file backend). */
  save(data: StateData): Promise<void>;
  close?(): Promise<void>;
  /**
   * The per-installation key (kept outside the state) that digests written to the state are made
   * with (`keyed-digests.ts`); absent or undefined: bare sha256 (a store with no place for a key).
   */
  digestKey?(): Buffer | undefined;
}

export function emptyState(): StateData {
  return { version: 1, inventory: {}, applied: {}, journal: {}, drift: {}, runs: [] };
}

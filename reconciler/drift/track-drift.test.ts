import { describe, expect, it } from 'vitest';
import type { DriftEntry } from '../plan/types.ts';
import type { DriftRecord, HealedRecord } from '../state/types.ts';
import { trackDrift } from './track-drift.ts';

const policy = { afterObservations: 2, reminderMs: 24 * 3_600_000 };
const t = (h: number) => new Date(Date.UTC(2026, 0, 1, h));

function entry(fingerprint: string, p: DriftEntry['policy'] = 'observe', key = 'swarm.Service/web'): DriftEntry {
  return {
    key,
    kind: 'swarm.Service',
    name: key.split('/')[1] ?? '',
    provider: 'swarm',
    policy: p,
    type: 'changed',
    fingerprint,
    fields: [{ path: 'replicas', before: 5, after: 2, sensitive: false, forcesReplacement: false, unknown: false }],
  };
}

/** Runs passes one after another, as the daemon does, returning the event types of each. */
function passes(
  seq: readonly { at: Date; drift: DriftEntry[]; unobserved?: boolean; applied?: boolean }[],
  start: Record<string, DriftRecord> = {},
) {
  let records = start;
  let healed: Record<string, HealedRecord> = {};
  const out: string[][] = [];
  for (const p of seq) {
    const update = trackDrift(records, p.drift, p.at, policy, {
      unobserved: () => p.unobserved ?? false,
      applied: () => p.applied ?? false,
      healed,
    });
    records = update.records;
    healed = update.healed;
    out.push(update.events.map((e) => e.type));
  }
  return { events: out, records };
}

describe('trackDrift', () => {
  it.each([
    {
      why: 'opens only at the second consecutive observation, then stays quiet (once per fingerprint)',
      seq: [
        { at: t(0), drift: [entry('a')] },
        { at: t(1), drift: [entry('a')] },
        { at: t(2), drift: [entry('a')] },
      ],
      expected: [[], ['opened'], []],
    },
    {
      why: 'a drift seen once and gone (a flap) never alerts and resolves silently',
      seq: [
        { at: t(0), drift: [entry('a')] },
        { at: t(1), drift: [] },
      ],
      expected: [[], []],
    },
    {
      why: 'an opened alert is resolved when the drift goes away',
      seq: [
        { at: t(0), drift: [entry('a')] },
        { at: t(1), drift: [entry('a')] },
        { at: t(2), drift: [] },
      ],
      expected: [[], ['opened'], ['resolved']],
    },
    {
      why: 'a reminder comes after the reminder interval, and not again until another interval',
      seq: [
        { at: t(0), drift: [entry('a')] },
        { at: t(1), drift: [entry('a')] },
        { at: t(24), drift: [entry('a')] },
        { at: t(25), drift: [entry('a')] },
        { at: t(48), drift: [entry('a')] },
      ],
      expected: [[], ['opened'], [], ['reminder'], []],
    },
    {
      why: 'a different drift on the same resource while its alert is open is news as "changed" (not "resolved"), and the alert stays open',
      seq: [
        { at: t(0), drift: [entry('a')] },
        { at: t(1), drift: [entry('a')] },
        { at: t(2), drift: [entry('b')] },
        { at: t(3), drift: [entry('b')] },
        { at: t(4), drift: [] },
      ],
      expected: [[], ['opened'], ['changed'], [], ['resolved']],
    },
    {
      why: 'a different drift before any alert was sent just starts counting again',
      seq: [
        { at: t(0), drift: [entry('a')] },
        { at: t(1), drift: [entry('b')] },
        { at: t(2), drift: [entry('b')] },
      ],
      expected: [[], [], ['opened']],
    },
    {
      why: 'a hand edit healed in the same pass under enforce is announced once, though it was seen only once',
      seq: [
        { at: t(0), drift: [entry('a', 'enforce')], applied: true },
        { at: t(1), drift: [] },
      ],
      expected: [['healed'], []],
    },
    {
      why: 'the same hand edit coming back every pass is announced healed once, and opens the usual alert at the second observation',
      seq: [
        { at: t(0), drift: [entry('a', 'enforce')], applied: true },
        { at: t(1), drift: [entry('a', 'enforce')], applied: true },
        { at: t(2), drift: [entry('a', 'enforce')], applied: true },
      ],
      expected: [['healed'], ['opened'], []],
    },
    {
      why: 'a drift under observe is never announced as healed (keelson did not touch it)',
      seq: [{ at: t(0), drift: [entry('a', 'observe')], applied: true }],
      expected: [[]],
    },
    {
      why: 'a heal that failed (nothing applied) is not announced as healed',
      seq: [{ at: t(0), drift: [entry('a', 'enforce')], applied: false }],
      expected: [[]],
    },
    {
      why: 'paused resources are recorded but never alerted',
      seq: [
        { at: t(0), drift: [entry('a', 'paused')] },
        { at: t(1), drift: [entry('a', 'paused')] },
      ],
      expected: [[], []],
    },
    {
      why: 'a pass that could not observe the resource neither resolves nor counts it',
      seq: [
        { at: t(0), drift: [entry('a')] },
        { at: t(1), drift: [entry('a')] },
        { at: t(2), drift: [], unobserved: true },
        { at: t(3), drift: [entry('a')] },
      ],
      expected: [[], ['opened'], [], []],
    },
  ])('$why', ({ seq, expected }) => {
    expect(passes(seq).events).toEqual(expected);
  });

  it('continues from stored records after a restart without alerting twice', () => {
    const before = passes([
      { at: t(0), drift: [entry('a')] },
      { at: t(1), drift: [entry('a')] },
    ]);
    const stored = JSON.parse(JSON.stringify(before.records)) as Record<string, DriftRecord>;
    const after = passes(
      [
        { at: t(2), drift: [entry('a')] },
        { at: t(3), drift: [] },
      ],
      stored,
    );
    expect(after.events).toEqual([[], ['resolved']]);
  });

  it('keeps the field paths and counts observations', () => {
    const { records } = passes([
      { at: t(0), drift: [entry('a')] },
      { at: t(1), drift: [entry('a')] },
    ]);
    expect(records['swarm.Service/web']).toMatchObject({
      observations: 2,
      fields: ['replicas'],
      firstSeen: t(0).toISOString(),
    });
  });
});

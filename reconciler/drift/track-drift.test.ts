import { describe, expect, it } from 'vitest';
import type { DriftEntry } from '../plan/types.ts';
import type { DriftRecord } from '../state/types.ts';
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
  seq: readonly { at: Date; drift: DriftEntry[]; unobserved?: boolean }[],
  start: Record<string, DriftRecord> = {},
) {
  let records = start;
  const out: string[][] = [];
  for (const p of seq) {
    const update = trackDrift(records, p.drift, p.at, policy, () => p.unobserved ?? false);
    records = update.records;
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
      why: 'a different drift on the same resource resolves the old alert and starts counting again',
      seq: [
        { at: t(0), drift: [entry('a')] },
        { at: t(1), drift: [entry('a')] },
        { at: t(2), drift: [entry('b')] },
        { at: t(3), drift: [entry('b')] },
      ],
      expected: [[], ['opened'], ['resolved'], ['opened']],
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

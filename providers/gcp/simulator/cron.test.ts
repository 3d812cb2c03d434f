import { describe, expect, it } from 'vitest';
import { nextFire, parseCron } from './cron.ts';

describe('unix-cron in a time zone', () => {
  const cases: [string, string, string, string, string][] = [
    [
      'daily 03:00 Berlin in winter is 02:00Z',
      '0 3 * * *',
      'Europe/Berlin',
      '2026-01-05T08:00:00Z',
      '2026-01-06T02:00:00.000Z',
    ],
    [
      'daily 03:00 Berlin in summer is 01:00Z',
      '0 3 * * *',
      'Europe/Berlin',
      '2026-07-01T00:00:00Z',
      '2026-07-01T01:00:00.000Z',
    ],
    ['every 15 minutes UTC', '*/15 * * * *', 'UTC', '2026-01-05T08:07:00Z', '2026-01-05T08:15:00.000Z'],
    [
      'Mondays at 09:30 New York',
      '30 9 * * mon',
      'America/New_York',
      '2026-01-05T15:00:00Z',
      '2026-01-12T14:30:00.000Z',
    ],
    ['dom and dow both set: either fires', '0 0 1 * 5', 'UTC', '2026-01-02T00:00:00Z', '2026-01-09T00:00:00.000Z'],
    [
      '02:30 does not exist on the spring-forward day in Berlin: next day',
      '30 2 * * *',
      'Europe/Berlin',
      '2026-03-29T00:00:00Z',
      '2026-03-30T00:30:00.000Z',
    ],
  ];
  it.each(cases)('%s', (_why, cron, tz, after, expected) => {
    expect(new Date(nextFire(parseCron(cron), tz, Date.parse(after))).toISOString()).toBe(expected);
  });

  it('names the field it cannot read', () => {
    expect(() => parseCron('61 * * * *')).toThrow(/minute "61" is out of 0-59/);
    expect(() => parseCron('every 5 minutes')).toThrow(/5 fields/);
  });
});

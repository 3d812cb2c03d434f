/** The kind of a run: a restic tag, and weekly and monthly runs also read back a sample of the data. */
export type BackupType = 'daily' | 'weekly' | 'monthly';

/** A calendar day in the configured time zone. */
export interface LocalDay {
  /** `YYYY-MM-DD`: the run's id (one run per day). */
  readonly date: string;
  readonly dayOfMonth: number;
  /** 0 = Sunday … 6 = Saturday. */
  readonly weekday: number;
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** The day `at` falls on in `timeZone` (an IANA name such as Europe/Berlin). */
export function localDay(at: Date, timeZone: string): LocalDay {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    weekday: 'short',
  }).formatToParts(at);
  const get = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? '';
  return {
    date: `${get('year')}-${get('month')}-${get('day')}`,
    dayOfMonth: Number(get('day')),
    weekday: WEEKDAYS.indexOf(get('weekday')),
  };
}

/** Monthly on the 1st, weekly on Sundays, daily otherwise (the 1st wins when it is a Sunday). */
export function backupTypeFor(day: LocalDay): BackupType {
  if (day.dayOfMonth === 1) return 'monthly';
  if (day.weekday === 0) return 'weekly';
  return 'daily';
}

/** Throws a clear error for a time zone the runtime does not know. */
export function assertTimeZone(timeZone: string, variable: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
  } catch {
    throw new Error(`${variable} is "${timeZone}", which is not an IANA time zone (e.g. Europe/Berlin)`);
  }
}

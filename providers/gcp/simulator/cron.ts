/** A parsed unix-cron schedule (the format Cloud Scheduler takes). */
export interface CronSchedule {
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly days: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  readonly weekdays: ReadonlySet<number>;
  readonly dayRestricted: boolean;
  readonly weekdayRestricted: boolean;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** Parses `m h dom mon dow`; throws an Error saying which field is wrong. */
export function parseCron(text: string): CronSchedule {
  const parts = text.trim().split(/\s+/);
  if (parts.length !== 5)
    throw new Error(`schedule "${text}" must have 5 fields (minute hour day-of-month month day-of-week)`);
  const field = (value: string, name: string, min: number, max: number, names?: string[]): Set<number> => {
    const out = new Set<number>();
    for (const item of value.split(',')) {
      const m = /^(\*|[\w]+(?:-[\w]+)?)(?:\/(\d+))?$/.exec(item.toLowerCase());
      if (!m) throw new Error(`schedule "${text}": cannot read ${name} "${item}"`);
      const num = (s: string) => {
        const i = names?.indexOf(s.slice(0, 3)) ?? -1;
        const n = i >= 0 && /^[a-z]/.test(s) ? i + (min === 1 ? 1 : 0) : Number(s);
        if (!Number.isInteger(n) || n < min || n > max)
          throw new Error(`schedule "${text}": ${name} "${s}" is out of ${min}-${max}`);
        return n;
      };
      let lo = min;
      let hi = max;
      if (m[1] !== '*') {
        const [a, b] = m[1]!.split('-');
        lo = num(a!);
        hi = b === undefined ? (m[2] ? max : lo) : num(b);
      }
      const step = m[2] ? Number(m[2]) : 1;
      if (step < 1) throw new Error(`schedule "${text}": step in ${name} must be at least 1`);
      for (let v = lo; v <= hi; v += step) out.add(v);
    }
    return out;
  };
  const weekdays = field(parts[4]!, 'day-of-week', 0, 7, DAYS);
  if (weekdays.has(7)) weekdays.add(0);
  return {
    minutes: field(parts[0]!, 'minute', 0, 59),
    hours: field(parts[1]!, 'hour', 0, 23),
    days: field(parts[2]!, 'day-of-month', 1, 31),
    months: field(parts[3]!, 'month', 1, 12, MONTHS),
    weekdays,
    dayRestricted: parts[2] !== '*',
    weekdayRestricted: parts[4] !== '*',
  };
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Whether `tz` is an IANA time zone this runtime knows. */
export function validTimeZone(tz: string): boolean {
  try {
    wallOf(0, tz);
    return true;
  } catch {
    return false;
  }
}

/** The wall-clock time of instant `t` in `tz`, as a UTC-based "naive" millisecond value. */
function wallOf(t: number, tz: string): number {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(tz, f);
  }
  const p: Record<string, number> = {};
  for (const part of f.formatToParts(new Date(t))) if (part.type !== 'literal') p[part.type] = Number(part.value);
  return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
}

function matchesDay(s: CronSchedule, w: Date): boolean {
  const dom = s.days.has(w.getUTCDate());
  const dow = s.weekdays.has(w.getUTCDay());
  if (s.dayRestricted && s.weekdayRestricted) return dom || dow;
  return dom && dow;
}

/** The first instant strictly after `after` (ms) at which the schedule fires in time zone `tz`. */
export function nextFire(s: CronSchedule, tz: string, after: number): number {
  const start = wallOf(after, tz);
  const w = new Date(Math.floor(start / 60_000) * 60_000 + 60_000);
  for (let guard = 0; guard < 200_000; guard++) {
    if (!s.months.has(w.getUTCMonth() + 1)) {
      w.setUTCMonth(w.getUTCMonth() + 1, 1);
      w.setUTCHours(0, 0, 0, 0);
      continue;
    }
    if (!matchesDay(s, w)) {
      w.setUTCDate(w.getUTCDate() + 1);
      w.setUTCHours(0, 0, 0, 0);
      continue;
    }
    if (!s.hours.has(w.getUTCHours())) {
      w.setUTCHours(w.getUTCHours() + 1, 0, 0, 0);
      continue;
    }
    if (!s.minutes.has(w.getUTCMinutes())) {
      w.setUTCMinutes(w.getUTCMinutes() + 1, 0, 0);
      continue;
    }
    const wall = w.getTime();
    const t1 = wall - (wallOf(wall, tz) - wall);
    const t2 = wall - (wallOf(t1, tz) - t1);
    if (wallOf(t2, tz) === wall && t2 > after) return t2;
    w.setUTCMinutes(w.getUTCMinutes() + 1, 0, 0);
  }
  throw new Error('schedule never fires');
}

/**
 * Scheduled runs, the pure part: a pipeline's `schedules` entries are five-field cron
 * expressions (minute hour day-of-month month day-of-week, as crontab(5)) read in an IANA
 * time zone. Used by the clocks (the local mode's timer, the reconciler's minute rule on AWS)
 * to decide what is due, and to write the EventBridge Scheduler expression (`cron(minutes hours day-of-month month day-of-week year)`,
 * with `?` in one of the two day fields and days of the week numbered 1-7 from Sunday:
 * https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html#cron-based).
 */

export interface ScheduleSpec {
  /** Unique in the pipeline; the run shows it (`schedule nightly on main`). */
  name: string;
  cron: string;
  /** IANA time zone the expression is read in. @default "UTC" */
  timezone: string;
  branch: string;
  /** Given to the run as a manual run's parameters are (`SLIPWAY_PARAM_<NAME>`). */
  parameters: Record<string, string>;
  /** Skip the run when the branch's head already ran green. @default false */
  onlyIfChanged: boolean;
}

interface Field { min: number; max: number; names?: readonly string[] }
const FIELDS: readonly Field[] = [
  { min: 0, max: 59 },
  { min: 0, max: 23 },
  { min: 1, max: 31 },
  { min: 1, max: 12, names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] },
  { min: 0, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
];
const FIELD_NAMES = ['minute', 'hour', 'day of month', 'month', 'day of week'];

export interface ParsedCron {
  sets: Array<Set<number>>;
  /** Whether the day fields were restricted (not `*`): cron's "either day field" rule. */
  domRestricted: boolean;
  dowRestricted: boolean;
}

/** Parses a five-field cron expression; throws an Error naming the field at fault. */
export function parseCron(expression: string): ParsedCron {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5) throw new Error(`"${expression}" has ${parts.length} fields; a schedule's cron has 5: minute hour day-of-month month day-of-week (e.g. "0 2 * * 1-5")`);
  const sets = parts.map((part, i) => parseField(part, FIELDS[i], FIELD_NAMES[i]));
  // Sunday is 0 or 7.
  if (sets[4].has(7)) { sets[4].delete(7); sets[4].add(0); }
  return { sets, domRestricted: parts[2] !== '*', dowRestricted: parts[4] !== '*' };
}

function parseField(part: string, f: Field, label: string): Set<number> {
  const out = new Set<number>();
  const value = (s: string): number => {
    const named = f.names?.indexOf(s.toUpperCase()) ?? -1;
    if (named >= 0) return named + (f.min === 1 ? 1 : 0);
    if (!/^\d+$/.test(s)) throw new Error(`${label}: "${s}" is not a number${f.names ? ` or a name (${f.names.join(', ')})` : ''}`);
    const n = Number(s);
    if (n < f.min || n > f.max) throw new Error(`${label}: ${n} is outside ${f.min}-${f.max}`);
    return n;
  };
  for (const item of part.split(',')) {
    const [range, stepText] = item.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new Error(`${label}: step "${stepText}" must be a whole number from 1`);
    let lo: number;
    let hi: number;
    if (range === '*') { lo = f.min; hi = f.max === 7 ? 6 : f.max; }
    else if (range.includes('-')) { const [a, b] = range.split('-'); lo = value(a); hi = value(b); if (lo > hi) throw new Error(`${label}: range ${range} runs backwards`); }
    else { lo = value(range); hi = stepText === undefined ? lo : (f.max === 7 ? 6 : f.max); }
    for (let n = lo; n <= hi; n += step) out.add(n);
  }
  return out;
}

/** The wall clock of an instant in a time zone. */
function wallClock(instant: number, timezone: string): { minute: number; hour: number; day: number; month: number; weekday: number } {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: timezone, hourCycle: 'h23', minute: 'numeric', hour: 'numeric', day: 'numeric', month: 'numeric', weekday: 'short' }).formatToParts(new Date(instant));
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  return { minute: Number(get('minute')), hour: Number(get('hour')), day: Number(get('day')), month: Number(get('month')), weekday: ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(get('weekday')) };
}

export function isValidTimeZone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

/** Whether the expression matches the minute starting at `instant` (ms, UTC) in the time zone. */
export function matchesMinute(cron: ParsedCron, timezone: string, instant: number): boolean {
  const c = wallClock(instant, timezone);
  const [min, hour, dom, month, dow] = cron.sets;
  if (!min.has(c.minute) || !hour.has(c.hour) || !month.has(c.month)) return false;
  // crontab(5): when both day fields are restricted, either may match.
  if (cron.domRestricted && cron.dowRestricted) return dom.has(c.day) || dow.has(c.weekday);
  return dom.has(c.day) && dow.has(c.weekday);
}

/**
 * The scheduled times (whole minutes, ISO) in (from, to]: what a timer that last looked at
 * `from` owes now. At most `limit` (a machine asleep for a week owes the latest ones only).
 */
export function dueTimes(schedule: Pick<ScheduleSpec, 'cron' | 'timezone'>, from: number, to: number, limit = 5): string[] {
  const cron = parseCron(schedule.cron);
  const out: string[] = [];
  const first = Math.floor(from / 60_000) * 60_000 + 60_000;
  for (let t = Math.max(first, to - 7 * 86_400_000); t <= to; t += 60_000) {
    if (matchesMinute(cron, schedule.timezone, t)) out.push(new Date(t).toISOString());
  }
  return out.slice(-limit);
}

/**
 * The EventBridge Scheduler expression for a five-field cron: `?` in the day field left
 * `*`, days of the week renumbered 1-7. EventBridge cannot say "this day of the month or
 * this weekday", so restricting both is refused.
 */
export function toEventBridgeCron(expression: string): string {
  const parsed = parseCron(expression);
  const [minute, hour, dom, month, dow] = expression.trim().split(/\s+/);
  if (parsed.domRestricted && parsed.dowRestricted) throw new Error('EventBridge Scheduler cannot restrict both the day of the month and the day of the week; use "*" in one of them');
  const dowEb = parsed.dowRestricted ? [...parsed.sets[4]].sort((a, b) => a - b).map((d) => d + 1).join(',') : '?';
  return `cron(${minute} ${hour} ${parsed.dowRestricted ? '?' : dom} ${month} ${dowEb} *)`;
}

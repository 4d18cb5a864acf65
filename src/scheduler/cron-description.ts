const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const MONTH_NAMES = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

type Unit = 'second' | 'minute' | 'hour';

/**
 * A six-field cron (seconds first, as the scheduler reads it) in plain English, for people: "every 10 seconds",
 * "every 5 minutes, at second 0", "at 09:30:00, Monday through Friday". Fields it has no words for are quoted as
 * they are, so the text is never wrong, only sometimes terse.
 */
export function describeCron(cron: string): string {
  const fields = cron.trim().split(/\s+/);
  if (fields.length !== 6) return `cron "${cron}"`;
  const [second, minute, hour, dayOfMonth, month, dayOfWeek] = fields;
  const parts: string[] = [];
  if ([second, minute, hour].every((f) => /^\d{1,2}$/.test(f))) {
    parts.push(`at ${[hour, minute, second].map((f) => f.padStart(2, '0')).join(':')}`);
  } else {
    // A "*" is said only above a fixed field ("every minute, at second 30"); "every 10 seconds" says the rest.
    const fixed = (field: string) => field !== '*' && !field.startsWith('*/');
    for (const [field, unit, below] of [
      [hour, 'hour', minute],
      [minute, 'minute', second],
      [second, 'second', null],
    ] as Array<[string, Unit, string | null]>) {
      const text = timeField(field, unit, below === null || fixed(below));
      if (text) parts.push(text);
    }
  }
  if (dayOfMonth !== '*' && dayOfMonth !== '?') parts.push(`on day ${listOf(dayOfMonth, String)} of the month`);
  if (month !== '*') parts.push(`in ${listOf(month, (n) => MONTHS[n - 1] ?? String(n), MONTH_NAMES, 1)}`);
  if (dayOfWeek !== '*' && dayOfWeek !== '?')
    parts.push(`on ${listOf(dayOfWeek, (n) => DAYS[n] ?? String(n), DAY_NAMES, 0)}`);
  return parts.join(', ');
}

function timeField(field: string, unit: Unit, mention: boolean): string | null {
  if (field === '*') return mention ? `every ${unit}` : null;
  const step = /^\*\/(\d+)$/.exec(field);
  if (step) return Number(step[1]) === 1 ? `every ${unit}` : `every ${Number(step[1])} ${unit}s`;
  return `at ${unit} ${listOf(field, String)}`;
}

/** "1,15" → "1 and 15", "1-5" → "1 through 5", "0-30/10" → "every 10th from 0 through 30", names mapped. */
function listOf(field: string, name: (n: number) => string, aliases: string[] = [], aliasBase = 0): string {
  const value = (token: string): number => {
    const alias = aliases.indexOf(token.toLowerCase());
    return alias >= 0 ? alias + aliasBase : Number(token);
  };
  const items = field.split(',').map((item) => {
    const stepped = /^(.+)\/(\d+)$/.exec(item);
    const base = stepped ? stepped[1] : item;
    const range = /^([^-]+)-([^-]+)$/.exec(base);
    const text = range
      ? `${name(value(range[1]))} through ${name(value(range[2]))}`
      : base === '*'
        ? 'any'
        : /^[\w]+$/.test(base)
          ? name(value(base))
          : base;
    return stepped ? `every ${stepped[2]}th of ${text}` : text;
  });
  if (items.length === 1) return items[0];
  return `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

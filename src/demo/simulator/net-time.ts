/**
 * .NET-style date text for the simulator. Instants are bigint counts of 100 ns ticks since the Unix
 * epoch (the .NET DateTime resolution), so no precision is ever lost to JS numbers.
 */

/** 100 ns ticks per second. */
export const TICKS_PER_SECOND = 10_000_000n;
/** Nanoseconds per tick. */
export const NS_PER_TICK = 100n;

const OFFSET_PATTERN = /^([+-])(\d{2}):(\d{2})$/;
const DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Parses an offset such as `-06:00` or `+05:30` into minutes east of UTC.
 * @throws RangeError when the text is not `±HH:MM` or lies outside ±14:00 (the .NET limit).
 */
export function parseOffsetMinutes(offset: string): number {
  const m = OFFSET_PATTERN.exec(offset);
  if (!m) throw new RangeError(`Offset must look like +HH:MM or -HH:MM, got ${JSON.stringify(offset)}`);
  const minutes = Number(m[2]) * 60 + Number(m[3]);
  if (Number(m[3]) > 59 || minutes > 14 * 60) throw new RangeError(`Offset out of range: ${offset}`);
  return m[1] === '-' ? -minutes : minutes;
}

function pad(value: number | bigint, width: number): string {
  return value.toString().padStart(width, '0');
}

/**
 * Formats ticks as `yyyy-MM-ddTHH:mm:ss.fffffff±HH:MM` in the given offset.
 * With `trimFraction` the fraction follows .NET's `FFFFFFF` (trailing zeros dropped, and the dot too
 * when nothing is left), which is what Json.NET and DataContractSerializer really write.
 * @param ticks 100 ns ticks since 1970-01-01T00:00:00Z (must be >= 0).
 * @param offsetMinutes minutes east of UTC.
 */
export function formatTicks(ticks: bigint, offsetMinutes: number, trimFraction = false): string {
  const local = ticks + BigInt(offsetMinutes) * 60n * TICKS_PER_SECOND;
  const seconds = local / TICKS_PER_SECOND;
  const fraction = local % TICKS_PER_SECOND;
  let frac = '.' + pad(fraction, 7);
  if (trimFraction) {
    frac = frac.replace(/0+$/, '');
    if (frac === '.') frac = '';
  }
  return `${wallClockText(seconds)}${frac}${offsetText(offsetMinutes)}`;
}

/** The last whole second formatted: the dates of one answer, and of answers close together, share it. */
let lastSeconds: bigint | null = null;
let lastWallClock = '';

/** `yyyy-MM-ddTHH:mm:ss` of a count of seconds since the epoch, in the zone it was counted in. */
function wallClockText(seconds: bigint): string {
  if (seconds !== lastSeconds) {
    const d = new Date(Number(seconds) * 1000);
    lastWallClock =
      `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}` +
      `T${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}`;
    lastSeconds = seconds;
  }
  return lastWallClock;
}

/** `±HH:MM` of an offset in minutes east of UTC. */
function offsetText(offsetMinutes: number): string {
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return `${sign}${pad(Math.floor(abs / 60), 2)}:${pad(abs % 60, 2)}`;
}

/**
 * Parses `yyyy-MM-ddTHH:mm:ss[.f{1,7}](Z|±HH:MM)` into ticks since the Unix epoch.
 * @throws RangeError when the text is not in that form or names an impossible date.
 */
export function parseTicks(text: string): bigint {
  const m = DATE_PATTERN.exec(text);
  if (!m) throw new RangeError(`Not an ISO date with offset: ${JSON.stringify(text)}`);
  const [, y, mo, d, h, mi, s, f, off] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  const check = new Date(ms);
  if (
    check.getUTCFullYear() !== Number(y) ||
    check.getUTCMonth() !== Number(mo) - 1 ||
    check.getUTCDate() !== Number(d) ||
    check.getUTCHours() !== Number(h) ||
    check.getUTCMinutes() !== Number(mi) ||
    check.getUTCSeconds() !== Number(s)
  ) {
    throw new RangeError(`Impossible date: ${text}`);
  }
  const offsetMinutes = off === 'Z' ? 0 : parseOffsetMinutes(off);
  const fraction = BigInt((f ?? '').padEnd(7, '0'));
  return (BigInt(ms) / 1000n) * TICKS_PER_SECOND + fraction - BigInt(offsetMinutes) * 60n * TICKS_PER_SECOND;
}

/**
 * A nanosecond wall clock that is monotonic within the process: anchored to `Date.now()` once and
 * advanced by `process.hrtime`, so it never steps back when NTP adjusts the system time.
 */
export function createDefaultClock(): () => bigint {
  const anchorNs = BigInt(Date.now()) * 1_000_000n;
  const anchorHr = process.hrtime.bigint();
  return () => anchorNs + (process.hrtime.bigint() - anchorHr);
}

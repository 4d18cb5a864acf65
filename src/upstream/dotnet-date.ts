/**
 * Exact parsing of the date texts an ASP.NET Web API upstream sends, with no loss of the
 * 100 ns .NET tick precision and no rounding up.
 *
 * Why exactness matters: `MaxSyncDateTime` is half of a keyset cursor. A watermark moved
 * later than the upstream's (rounded up, or an ambiguous local time read as its later
 * instant) makes a consumer skip rows; cut to milliseconds it makes them repeat rows.
 *
 * Pure: no I/O, no clock, no environment. Uses `@js-temporal/polyfill` for time-zone rules
 * (texts without an offset); the rest is integer arithmetic, exact and much faster.
 */
import { Temporal } from '@js-temporal/polyfill';
import { UpstreamDateFormatError } from './errors';

/** One instant, in the forms Tidemark stores and serves. */
export interface UpstreamInstant {
  /**
   * UTC in .NET's round-trip ("O") form `yyyy-MM-ddTHH:mm:ss.fffffffZ`: always 7 fractional
   * digits (100 ns ticks) and `Z`. Truncated, never rounded.
   */
  utc: string;
  /**
   * The same instant floored to whole microseconds, `yyyy-MM-ddTHH:mm:ss.ffffffZ` (6 digits),
   * the precision of a Postgres `timestamptz`. Floored so the stored watermark is never later
   * than the upstream's.
   */
  utcMicros: string;
  /** Nanoseconds since 1970-01-01T00:00:00Z (negative before). Always a multiple of 100. */
  epochNanoseconds: bigint;
}

const NS_PER_SECOND = 1_000_000_000n;
const NS_PER_MS = 1_000_000n;
const NS_PER_MINUTE = 60n * NS_PER_SECOND;

/** 0001-01-01T00:00:00Z, .NET `DateTime.MinValue` as an instant. */
export const DOTNET_MIN_EPOCH_NS = -62_135_596_800n * NS_PER_SECOND;
/** 9999-12-31T23:59:59.9999999Z, .NET `DateTime.MaxValue` as an instant. */
export const DOTNET_MAX_EPOCH_NS = 253_402_300_800n * NS_PER_SECOND - 100n;

/** Largest UTC offset .NET's `DateTimeOffset` allows: ±14:00. */
const MAX_OFFSET_MINUTES = 14 * 60;

/** Longest text worth looking at; the longest valid form is 33 chars. */
const MAX_TEXT_LENGTH = 64;

/**
 * `/Date(ms)/` and `/Date(ms±hhmm)/`: DataContractJsonSerializer / JavaScriptSerializer
 * (and Json.NET with `DateFormatHandling.MicrosoftDateFormat`). In JSON they are written
 * `"\/Date(...)\/"`, which decodes to this. `ms` is always milliseconds since the Unix epoch
 * in UTC; the optional offset only records the sender's local offset.
 */
const DOTNET_JSON_DATE = /^\/Date\((-?)(0|[1-9][0-9]{0,15})(?:([+-])([0-9]{2})([0-9]{2}))?\)\/$/;

/**
 * ISO 8601 as .NET writes it (Json.NET's default `IsoDateTimeFormat`, DataContractSerializer's
 * `xs:dateTime`): seconds always present, 0 to 7 fractional digits (the help page sample has 7:
 * `2025-12-10T08:22:52.8100855-06:00`), then `Z`, `±hh:mm`, or nothing for a
 * `DateTimeKind.Unspecified` value. The form is
 * `^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]*))?(Z|[+-][0-9]{2}:[0-9]{2})?$`,
 * read by {@link isoFieldsOf} without a RegExp (every answer has three such dates). The fraction is read greedily,
 * so that "too many digits" gets its own message.
 */
interface IsoFields {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** The digits after the decimal point ('' for a bare point); undefined without one. */
  fraction: string | undefined;
  /** `Z` or `±hh:mm`; undefined without an offset. */
  offset: string | undefined;
}

/** The value of `width` ASCII digits of `text` at `at`, or -1 when one of them is not a digit. */
function digitsAt(text: string, at: number, width: number): number {
  let value = 0;
  for (let i = at; i < at + width; i++) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/** The fields of an ISO date-time in the form above; null when `text` is not in it. */
function isoFieldsOf(text: string): IsoFields | null {
  const length = text.length;
  if (length < 19) return null;
  const year = digitsAt(text, 0, 4);
  const month = digitsAt(text, 5, 2);
  const day = digitsAt(text, 8, 2);
  const hour = digitsAt(text, 11, 2);
  const minute = digitsAt(text, 14, 2);
  const second = digitsAt(text, 17, 2);
  if (
    year < 0 ||
    month < 0 ||
    day < 0 ||
    hour < 0 ||
    minute < 0 ||
    second < 0 ||
    text[4] !== '-' ||
    text[7] !== '-' ||
    text[10] !== 'T' ||
    text[13] !== ':' ||
    text[16] !== ':'
  ) {
    return null;
  }
  let at = 19;
  let fraction: string | undefined;
  if (text[at] === '.') {
    const start = ++at;
    while (at < length && digitsAt(text, at, 1) >= 0) at++;
    fraction = text.slice(start, at);
  }
  let offset: string | undefined;
  if (at === length) offset = undefined;
  else if (at + 1 === length && text[at] === 'Z') offset = 'Z';
  else if (
    at + 6 === length &&
    (text[at] === '+' || text[at] === '-') &&
    digitsAt(text, at + 1, 2) >= 0 &&
    text[at + 3] === ':' &&
    digitsAt(text, at + 4, 2) >= 0
  ) {
    offset = text.slice(at);
  } else return null;
  return { year, month, day, hour, minute, second, fraction, offset };
}

const validatedZones = new Set<string>();

/**
 * Checks that `timeZone` is a time zone Temporal knows (an IANA name such as
 * `America/Chicago`, or `UTC`, or a fixed offset such as `+01:00`).
 *
 * @throws RangeError when it is not. This is a configuration error, not an upstream one,
 *   so it is deliberately not an `UpstreamError`.
 */
export function assertValidTimeZone(timeZone: string): void {
  if (validatedZones.has(timeZone)) return;
  try {
    // The constructor validates the identifier; the instant itself is irrelevant.
    new Temporal.ZonedDateTime(0n, timeZone);
  } catch {
    throw new RangeError(
      `defaultTimeZone ${JSON.stringify(timeZone)} is not a known time zone (expected an IANA name such as "America/Chicago")`,
    );
  }
  validatedZones.add(timeZone);
}

/**
 * Parses one upstream date text into an exact instant.
 *
 * Accepted forms (anything else throws):
 * - `/Date(ms)/`, `/Date(-ms)/`, `/Date(ms+hhmm)/`, `/Date(ms-hhmm)/`: `ms` is UTC epoch
 *   milliseconds; the offset (at most ±14:00) does not change the instant.
 * - `yyyy-MM-ddTHH:mm:ss[.f{1,7}]` followed by `Z`, `±hh:mm` (at most ±14:00), or nothing.
 *   Without an offset the wall time is read in `defaultTimeZone`. A wall time that does not
 *   exist there (spring-forward gap) or exists twice (fall-back overlap) resolves to the
 *   EARLIER of the candidate instants: an instant later than the upstream meant could make
 *   consumers skip rows, an earlier one at worst makes them re-read some.
 *
 * The instant must lie within .NET's DateTime range in UTC
 * (0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.9999999Z): a .NET DateTimeOffset cannot hold
 * anything else, and the "O" form cannot express it.
 *
 * @param text the date text exactly as the upstream sent it (no trimming is done).
 * @param defaultTimeZone time zone for texts without an offset, e.g. `America/Chicago`.
 * @returns `{ utc, utcMicros, epochNanoseconds }`, see {@link UpstreamInstant}.
 * @throws UpstreamDateFormatError (code `not_a_dto`) for any text not in the forms above:
 *   more than 7 fractional digits, month 13, Feb 30, hour 24, leap second 60, year 0000,
 *   offsets beyond ±14:00, surrounding whitespace, out-of-range instants, garbage.
 * @throws RangeError when `defaultTimeZone` is not a known time zone.
 */
export function parseUpstreamDate(text: string, defaultTimeZone: string): UpstreamInstant {
  return instantOf(upstreamEpochNanoseconds(text, defaultTimeZone));
}

/**
 * The instant of an upstream date text, in nanoseconds since the Unix epoch: {@link parseUpstreamDate} without the
 * formatting, for texts that are only checked. Same forms, rules and errors.
 */
export function upstreamEpochNanoseconds(text: string, defaultTimeZone: string): bigint {
  assertValidTimeZone(defaultTimeZone);
  if (typeof text !== 'string') {
    throw new UpstreamDateFormatError(String(text), `expected a string, got ${typeof text}`);
  }
  if (text.length > MAX_TEXT_LENGTH) {
    throw new UpstreamDateFormatError(text, `longer than ${MAX_TEXT_LENGTH} characters`);
  }
  const epochNanoseconds = unboundedEpochNanoseconds(text, defaultTimeZone);
  if (epochNanoseconds < DOTNET_MIN_EPOCH_NS || epochNanoseconds > DOTNET_MAX_EPOCH_NS) {
    throw new UpstreamDateFormatError(
      text,
      'instant is outside the .NET DateTime range 0001-01-01T00:00:00Z..9999-12-31T23:59:59.9999999Z',
    );
  }
  return epochNanoseconds;
}

/**
 * Reads a date text as a .NET upstream's serializer hands it to `DateTime.ToUniversalTime()`: like
 * {@link parseUpstreamDate}, except that an ISO text whose wall time is valid but whose instant falls outside .NET's
 * DateTime range (`DateTime.MinValue` or `MaxValue` moved by its offset or by the assumed zone) clamps to
 * `0001-01-01T00:00:00.0000000Z` or `9999-12-31T23:59:59.9999999Z`, as `ToUniversalTime()` does. A `/Date(ms)/` text
 * outside the range is still refused: .NET cannot construct that DateTime at all.
 *
 * @throws UpstreamDateFormatError for any text not in the accepted forms.
 * @throws RangeError when `defaultTimeZone` is not a known time zone.
 */
export function parseUpstreamDateClamped(text: string, defaultTimeZone: string): UpstreamInstant {
  return instantOf(clampedEpochNanoseconds(text, defaultTimeZone));
}

/** The instant of {@link parseUpstreamDateClamped}, in nanoseconds since the Unix epoch, for texts only checked. */
export function clampedEpochNanoseconds(text: string, defaultTimeZone: string): bigint {
  if (typeof text !== 'string' || text.startsWith('/')) return upstreamEpochNanoseconds(text, defaultTimeZone);
  assertValidTimeZone(defaultTimeZone);
  if (text.length > MAX_TEXT_LENGTH) {
    throw new UpstreamDateFormatError(text, `longer than ${MAX_TEXT_LENGTH} characters`);
  }
  const epochNanoseconds = parseIsoDateTime(text, defaultTimeZone);
  if (epochNanoseconds < DOTNET_MIN_EPOCH_NS) return DOTNET_MIN_EPOCH_NS;
  if (epochNanoseconds > DOTNET_MAX_EPOCH_NS) return DOTNET_MAX_EPOCH_NS;
  return epochNanoseconds;
}

/**
 * Checks a date text exactly as {@link clampedEpochNanoseconds} reads it, with the same errors, for a text that is
 * only checked: an ISO text with an offset or `Z` is not turned into an instant, since once its fields and offset
 * are valid its clamped instant always exists.
 */
export function checkUpstreamDateClamped(text: string, defaultTimeZone: string): void {
  if (typeof text !== 'string' || text.startsWith('/')) {
    upstreamEpochNanoseconds(text, defaultTimeZone);
    return;
  }
  assertValidTimeZone(defaultTimeZone);
  if (text.length > MAX_TEXT_LENGTH) {
    throw new UpstreamDateFormatError(text, `longer than ${MAX_TEXT_LENGTH} characters`);
  }
  const fields = checkedIsoFields(text);
  if (fields.offset === undefined) isoInstant(text, fields, defaultTimeZone);
  else if (fields.offset !== 'Z')
    checkOffset(text, Number(fields.offset.slice(1, 3)), Number(fields.offset.slice(4, 6)));
}

/**
 * The time zone that was assumed to read `text`: `defaultTimeZone` when the text is an ISO date-time without an
 * offset (.NET `DateTimeKind.Unspecified`), null when it carries its own offset or `Z`, or is a `/Date(ms)/` value
 * (always UTC). The text must already have been read successfully.
 */
export function assumedTimeZone(text: string | null, defaultTimeZone: string): string | null {
  if (text === null) return null;
  const fields = isoFieldsOf(text);
  return fields !== null && fields.offset === undefined ? defaultTimeZone : null;
}

function unboundedEpochNanoseconds(text: string, defaultTimeZone: string): bigint {
  return text.startsWith('/') ? parseDotNetJsonDate(text) : parseIsoDateTime(text, defaultTimeZone);
}

function instantOf(epochNanoseconds: bigint): UpstreamInstant {
  const utc = formatUtc(epochNanoseconds, 7);
  // Both forms cut the fraction, so the microsecond form is the 100 ns form without its last digit.
  return { utc, utcMicros: `${utc.slice(0, -2)}Z`, epochNanoseconds };
}

/**
 * Formats an instant as `yyyy-MM-ddTHH:mm:ss.<digits>Z`, cutting (never rounding) the
 * fraction to `digits` digits, i.e. flooring the instant.
 *
 * @param epochNanoseconds nanoseconds since the Unix epoch, within the .NET DateTime range.
 * @param digits number of fractional digits, 0..9 (7 = .NET "O", 6 = Postgres microseconds).
 * @throws RangeError when the instant is outside years 0001..9999 or digits is out of range.
 */
export function formatUtc(epochNanoseconds: bigint, digits: number): string {
  if (!Number.isInteger(digits) || digits < 0 || digits > 9) {
    throw new RangeError(`digits must be an integer 0..9, got ${digits}`);
  }
  if (epochNanoseconds < DOTNET_MIN_EPOCH_NS || epochNanoseconds >= DOTNET_MAX_EPOCH_NS + 100n) {
    throw new RangeError('instant is outside years 0001..9999');
  }
  // Wall-clock fields in UTC are never negative, so cutting the sub-second digits is a floor
  // of the instant even before 1970 (a plain truncation of a negative epoch value would be
  // a ceiling). Whole seconds are exact in a Date (years 0001..9999 are far inside its range);
  // the sub-second part stays an integer of nanoseconds.
  let seconds = epochNanoseconds / NS_PER_SECOND;
  let subSecondNs = epochNanoseconds - seconds * NS_PER_SECOND;
  if (subSecondNs < 0n) {
    subSecondNs += NS_PER_SECOND;
    seconds -= 1n;
  }
  const z = new Date(Number(seconds) * 1000);
  const fraction = digits === 0 ? '' : `.${pad(Number(subSecondNs), 9).slice(0, digits)}`;
  return (
    `${pad(z.getUTCFullYear(), 4)}-${pad(z.getUTCMonth() + 1, 2)}-${pad(z.getUTCDate(), 2)}` +
    `T${pad(z.getUTCHours(), 2)}:${pad(z.getUTCMinutes(), 2)}:${pad(z.getUTCSeconds(), 2)}${fraction}Z`
  );
}

function parseDotNetJsonDate(text: string): bigint {
  const m = DOTNET_JSON_DATE.exec(text);
  if (m === null) {
    throw new UpstreamDateFormatError(text, 'not a /Date(ms)/ or /Date(ms±hhmm)/ value');
  }
  const [, sign, digits, offsetSign, offsetHours, offsetMinutes] = m;
  if (offsetSign !== undefined) {
    checkOffset(text, Number(offsetHours), Number(offsetMinutes));
  }
  const ms = BigInt(digits);
  return (sign === '-' ? -ms : ms) * NS_PER_MS;
}

/**
 * The fields of an ISO date-time text that .NET would read, checked with the messages of {@link parseUpstreamDate}
 * (the offset's range is checked by {@link isoInstant}).
 */
function checkedIsoFields(text: string): IsoFields {
  const fields = isoFieldsOf(text);
  if (fields === null) {
    throw new UpstreamDateFormatError(
      text,
      'not an ISO 8601 date-time yyyy-MM-ddTHH:mm:ss[.fffffff][Z|±hh:mm] nor /Date(ms)/',
    );
  }
  const { year, month, day, hour, minute, second, fraction } = fields;
  if (fraction !== undefined && fraction.length === 0) {
    throw new UpstreamDateFormatError(text, 'a decimal point must be followed by 1 to 7 digits');
  }
  if (fraction !== undefined && fraction.length > 7) {
    throw new UpstreamDateFormatError(text, `${fraction.length} fractional digits; .NET has at most 7 (100 ns ticks)`);
  }
  if (year < 1) throw new UpstreamDateFormatError(text, 'year 0000 does not exist in .NET');
  if (month < 1 || month > 12) throw new UpstreamDateFormatError(text, `month ${text.slice(5, 7)} is not 01..12`);
  if (hour > 23) throw new UpstreamDateFormatError(text, `hour ${text.slice(11, 13)} is not 00..23`);
  if (minute > 59) throw new UpstreamDateFormatError(text, `minute ${text.slice(14, 16)} is not 00..59`);
  if (second > 59) {
    throw new UpstreamDateFormatError(text, `second ${text.slice(17, 19)} is not 00..59 (.NET has no leap seconds)`);
  }
  if (day < 1 || day > daysInMonth(year, month)) {
    throw new UpstreamDateFormatError(text, `day ${text.slice(8, 10)} does not exist in ${text.slice(0, 7)}`);
  }
  return fields;
}

function parseIsoDateTime(text: string, defaultTimeZone: string): bigint {
  return isoInstant(text, checkedIsoFields(text), defaultTimeZone);
}

/** The instant of checked ISO fields; throws for an offset beyond ±14:00. */
function isoInstant(text: string, fields: IsoFields, defaultTimeZone: string): bigint {
  const { year, month, day, hour, minute, second, fraction, offset } = fields;
  const ns9 = (fraction ?? '').padEnd(9, '0');

  if (offset === undefined) {
    // 'earlier': see the docstring of parseUpstreamDate; a later instant could skip rows.
    const wallClock = new Temporal.PlainDateTime(
      year,
      month,
      day,
      hour,
      minute,
      second,
      Number(ns9.slice(0, 3)),
      Number(ns9.slice(3, 6)),
      Number(ns9.slice(6, 9)),
    );
    return wallClock.toZonedDateTime(defaultTimeZone, { disambiguation: 'earlier' }).epochNanoseconds;
  }
  // The wall time read as UTC, in whole seconds (exact in a Date; Date.UTC would take years below 100 as 19xx, so
  // those go through setUTCFullYear, which takes them as they are), plus the fraction as integer nanoseconds.
  let asIfUtcMs: number;
  if (year >= 100) {
    asIfUtcMs = Date.UTC(year, month - 1, day, hour, minute, second);
  } else {
    const asIfUtcDate = new Date(0);
    asIfUtcDate.setUTCFullYear(year, month - 1, day);
    asIfUtcDate.setUTCHours(hour, minute, second, 0);
    asIfUtcMs = asIfUtcDate.getTime();
  }
  const asIfUtc = BigInt(asIfUtcMs) * NS_PER_MS + BigInt(ns9);
  if (offset === 'Z') return asIfUtc;
  const offsetHours = Number(offset.slice(1, 3));
  const offsetMinutes = Number(offset.slice(4, 6));
  checkOffset(text, offsetHours, offsetMinutes);
  const offsetNs = BigInt(offsetHours * 60 + offsetMinutes) * NS_PER_MINUTE;
  // Local = UTC + offset, so UTC = local - offset.
  return offset.startsWith('-') ? asIfUtc + offsetNs : asIfUtc - offsetNs;
}

/** Days in a month of the proleptic Gregorian calendar (.NET's), month 1..12. */
function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function checkOffset(text: string, hours: number, minutes: number): void {
  if (minutes > 59) {
    throw new UpstreamDateFormatError(text, 'offset minutes are not 00..59');
  }
  if (hours * 60 + minutes > MAX_OFFSET_MINUTES) {
    throw new UpstreamDateFormatError(text, 'offset is beyond ±14:00, the .NET DateTimeOffset limit');
  }
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

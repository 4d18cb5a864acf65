import { describe, expect, it } from 'vitest';
import {
  DOTNET_MAX_EPOCH_NS,
  DOTNET_MIN_EPOCH_NS,
  assertValidTimeZone,
  formatUtc,
  parseUpstreamDate,
  upstreamEpochNanoseconds,
} from '../../../src/upstream/dotnet-date';
import { UpstreamDateFormatError, UpstreamError, UpstreamNotDtoError } from '../../../src/upstream/errors';

const CHICAGO = 'America/Chicago';

function utcOf(text: string, zone = CHICAGO): string {
  return parseUpstreamDate(text, zone).utc;
}

function rejection(text: string, zone = CHICAGO): UpstreamDateFormatError {
  try {
    parseUpstreamDate(text, zone);
  } catch (error) {
    expect(error).toBeInstanceOf(UpstreamDateFormatError);
    return error as UpstreamDateFormatError;
  }
  throw new Error(`expected ${JSON.stringify(text)} to be rejected`);
}

describe('parseUpstreamDate: ISO 8601 as .NET writes it', () => {
  it('keeps every tick of the help page sample and converts the -06:00 offset exactly', () => {
    expect(parseUpstreamDate('2025-12-10T08:22:52.8100855-06:00', CHICAGO)).toStrictEqual({
      utc: '2025-12-10T14:22:52.8100855Z',
      utcMicros: '2025-12-10T14:22:52.810085Z',
      epochNanoseconds: 1765376572810085500n,
    });
  });

  it.each([
    ['2026-01-02T03:04:05Z', '2026-01-02T03:04:05.0000000Z', 1767323045000000000n],
    ['2026-01-02T03:04:05.1Z', '2026-01-02T03:04:05.1000000Z', 1767323045100000000n],
    ['2026-01-02T03:04:05.12Z', '2026-01-02T03:04:05.1200000Z', 1767323045120000000n],
    ['2026-01-02T03:04:05.123Z', '2026-01-02T03:04:05.1230000Z', 1767323045123000000n],
    ['2026-01-02T03:04:05.1234Z', '2026-01-02T03:04:05.1234000Z', 1767323045123400000n],
    ['2026-01-02T03:04:05.12345Z', '2026-01-02T03:04:05.1234500Z', 1767323045123450000n],
    ['2026-01-02T03:04:05.123456Z', '2026-01-02T03:04:05.1234560Z', 1767323045123456000n],
    ['2026-01-02T03:04:05.1234567Z', '2026-01-02T03:04:05.1234567Z', 1767323045123456700n],
    ['2026-01-02T03:04:05.0000001Z', '2026-01-02T03:04:05.0000001Z', 1767323045000000100n],
  ])('accepts %s (0..7 fractional digits)', (text, utc, ns) => {
    const parsed = parseUpstreamDate(text, CHICAGO);
    expect(parsed.utc).toBe(utc);
    expect(parsed.epochNanoseconds).toBe(ns);
  });

  it.each([
    ['2026-01-02T03:04:05.1234567+00:00', '2026-01-02T03:04:05.1234567Z'],
    ['2026-01-02T03:04:05.1234567-00:00', '2026-01-02T03:04:05.1234567Z'],
    ['2026-01-02T03:04:05.1234567+05:30', '2026-01-01T21:34:05.1234567Z'],
    ['2026-01-02T03:04:05.1234567-05:00', '2026-01-02T08:04:05.1234567Z'],
    ['2026-01-02T03:04:05+14:00', '2026-01-01T13:04:05.0000000Z'],
    ['2026-01-02T03:04:05-14:00', '2026-01-02T17:04:05.0000000Z'],
    ['2026-03-02T06:00:00.0000001-06:00', '2026-03-02T12:00:00.0000001Z'],
  ])('applies the offset of %s', (text, utc) => {
    expect(utcOf(text)).toBe(utc);
  });

  it('never rolls 23:59:59.9999999 over into the next day, month or year', () => {
    expect(parseUpstreamDate('2026-01-31T23:59:59.9999999+00:00', CHICAGO)).toStrictEqual({
      utc: '2026-01-31T23:59:59.9999999Z',
      utcMicros: '2026-01-31T23:59:59.999999Z',
      epochNanoseconds: 1769903999999999900n,
    });
    expect(utcOf('2026-01-31T17:59:59.9999999-06:00')).toBe('2026-01-31T23:59:59.9999999Z');
    expect(utcOf('2025-12-31T23:59:59.9999999Z')).toBe('2025-12-31T23:59:59.9999999Z');
    expect(parseUpstreamDate('2025-12-31T23:59:59.9999999Z', CHICAGO).utcMicros).toBe('2025-12-31T23:59:59.999999Z');
  });

  it('floors utcMicros (never rounds up to the next microsecond)', () => {
    expect(parseUpstreamDate('2026-01-02T03:04:05.0000009Z', CHICAGO).utcMicros).toBe('2026-01-02T03:04:05.000000Z');
    expect(parseUpstreamDate('2026-01-02T03:04:05.1234569Z', CHICAGO).utcMicros).toBe('2026-01-02T03:04:05.123456Z');
  });

  it('handles instants before 1970 by flooring, not truncating toward zero', () => {
    expect(parseUpstreamDate('1969-12-31T23:59:59.9999999Z', CHICAGO)).toStrictEqual({
      utc: '1969-12-31T23:59:59.9999999Z',
      utcMicros: '1969-12-31T23:59:59.999999Z',
      epochNanoseconds: -100n,
    });
  });

  it('accepts year 0001 and 9999 at the edges of the .NET range', () => {
    expect(parseUpstreamDate('0001-01-01T00:00:00Z', CHICAGO)).toStrictEqual({
      utc: '0001-01-01T00:00:00.0000000Z',
      utcMicros: '0001-01-01T00:00:00.000000Z',
      epochNanoseconds: -62135596800000000000n,
    });
    expect(parseUpstreamDate('9999-12-31T23:59:59.9999999Z', CHICAGO)).toStrictEqual({
      utc: '9999-12-31T23:59:59.9999999Z',
      utcMicros: '9999-12-31T23:59:59.999999Z',
      epochNanoseconds: 253402300799999999900n,
    });
    expect(utcOf('0001-01-01T00:00:00-06:00')).toBe('0001-01-01T06:00:00.0000000Z');
    expect(utcOf('9999-12-31T23:59:59.9999999+14:00')).toBe('9999-12-31T09:59:59.9999999Z');
    expect(DOTNET_MIN_EPOCH_NS).toBe(-62135596800000000000n);
    expect(DOTNET_MAX_EPOCH_NS).toBe(253402300799999999900n);
  });

  it('rejects offsets that push the instant outside .NET DateTime range', () => {
    expect(rejection('0001-01-01T00:00:00+00:01').reason).toMatch(/outside the \.NET DateTime range/);
    expect(rejection('9999-12-31T23:59:59.9999999-00:01').reason).toMatch(/outside the \.NET DateTime range/);
  });
});

describe('parseUpstreamDate: no offset, read in the default time zone', () => {
  it('uses CST in winter and CDT in summer', () => {
    expect(utcOf('2026-01-15T08:00:00.1234567')).toBe('2026-01-15T14:00:00.1234567Z');
    expect(utcOf('2026-07-15T08:00:00.1234567')).toBe('2026-07-15T13:00:00.1234567Z');
  });

  it('resolves a time in the spring-forward gap to the earlier instant', () => {
    // 2026-03-08 02:00 CST jumps to 03:00 CDT; 02:30 does not exist. 'earlier' reads it with the
    // pre-transition offset (-06:00): 08:30Z would be the later choice.
    expect(utcOf('2026-03-08T02:30:00')).toBe('2026-03-08T07:30:00.0000000Z');
    expect(utcOf('2026-03-08T02:00:00')).toBe('2026-03-08T07:00:00.0000000Z');
    expect(utcOf('2026-03-08T03:00:00')).toBe('2026-03-08T08:00:00.0000000Z');
  });

  it('resolves a time in the fall-back overlap to the earlier (CDT) instant', () => {
    // 2025-11-02 01:30 happens twice: 06:30Z (CDT) and 07:30Z (CST).
    expect(utcOf('2025-11-02T01:30:00')).toBe('2025-11-02T06:30:00.0000000Z');
    expect(utcOf('2025-11-02T01:59:59.9999999')).toBe('2025-11-02T06:59:59.9999999Z');
    expect(utcOf('2025-11-02T02:00:00')).toBe('2025-11-02T08:00:00.0000000Z');
  });

  it('uses the zone database before standard time too (Chicago LMT in year 0001)', () => {
    expect(utcOf('0001-01-01T00:00:00')).toBe('0001-01-01T05:50:36.0000000Z');
  });

  it('ignores the default zone when the text has an offset or Z', () => {
    expect(utcOf('2026-07-15T08:00:00Z', 'Asia/Tokyo')).toBe('2026-07-15T08:00:00.0000000Z');
    expect(utcOf('2026-07-15T08:00:00', 'Asia/Tokyo')).toBe('2026-07-14T23:00:00.0000000Z');
    expect(utcOf('2026-07-15T08:00:00', 'UTC')).toBe('2026-07-15T08:00:00.0000000Z');
  });

  it('throws a RangeError (a configuration error) for an unknown time zone', () => {
    expect(() => parseUpstreamDate('2026-01-01T00:00:00Z', 'Mars/Olympus_Mons')).toThrow(RangeError);
    expect(() => assertValidTimeZone('Mars/Olympus_Mons')).toThrow(/Mars\/Olympus_Mons/);
    expect(() => assertValidTimeZone(CHICAGO)).not.toThrow();
  });
});

describe('parseUpstreamDate: /Date(ms)/ forms', () => {
  it.each([
    ['/Date(1765376572810)/', '2025-12-10T14:22:52.8100000Z', 1765376572810000000n],
    ['/Date(1765376572810-0600)/', '2025-12-10T14:22:52.8100000Z', 1765376572810000000n],
    ['/Date(1765376572810+0530)/', '2025-12-10T14:22:52.8100000Z', 1765376572810000000n],
    ['/Date(0)/', '1970-01-01T00:00:00.0000000Z', 0n],
    ['/Date(-1)/', '1969-12-31T23:59:59.9990000Z', -1000000n],
    ['/Date(-86400000+0000)/', '1969-12-31T00:00:00.0000000Z', -86400000000000n],
    ['/Date(-62135596800000)/', '0001-01-01T00:00:00.0000000Z', -62135596800000000000n],
    ['/Date(253402300799999)/', '9999-12-31T23:59:59.9990000Z', 253402300799999000000n],
  ])('reads %s as UTC epoch milliseconds (the offset is informational)', (text, utc, ns) => {
    const parsed = parseUpstreamDate(text, CHICAGO);
    expect(parsed.utc).toBe(utc);
    expect(parsed.epochNanoseconds).toBe(ns);
  });

  it.each([
    '/Date(-62135596800001)/',
    '/Date(253402300800000)/',
    '/Date()/',
    '/Date(12a)/',
    '/Date(01)/',
    '/Date(+1)/',
    '/Date(1+060)/',
    '/Date(1+1500)/',
    '/Date(1+0160)/',
    '/Date(1.5)/',
    '\\/Date(1)\\/',
    '/Date(1)',
    'Date(1)',
    '/Date(99999999999999999999)/',
  ])('rejects %s', (text) => {
    const error = rejection(text);
    expect(error.code).toBe('not_a_dto');
  });
});

describe('parseUpstreamDate: rejects anything else', () => {
  it.each([
    ['2026-01-02T03:04:05.12345678Z', /8 fractional digits/],
    ['2026-01-02T03:04:05.123456789-06:00', /9 fractional digits/],
    ['2026-13-01T00:00:00Z', /month 13/],
    ['2026-00-01T00:00:00Z', /month 00/],
    ['2026-02-29T00:00:00Z', /day 29 does not exist/],
    ['2026-04-31T00:00:00Z', /day 31 does not exist/],
    ['2026-01-00T00:00:00Z', /day 00 does not exist/],
    ['2026-01-01T24:00:00Z', /hour 24/],
    ['2026-01-01T23:60:00Z', /minute 60/],
    ['2026-06-30T23:59:60Z', /second 60/],
    ['0000-01-01T00:00:00Z', /year 0000/],
    ['2026-01-01T00:00:00+14:01', /beyond ±14:00/],
    ['2026-01-01T00:00:00+15:00', /beyond ±14:00/],
    ['2026-01-01T00:00:00+05:60', /minutes/],
    ['2026-01-01T00:00:00.Z', /decimal point/],
  ])('%s', (text, reason) => {
    expect(rejection(text).reason).toMatch(reason);
  });

  it.each([
    '',
    'garbage',
    'null',
    '2026-01-01',
    '2026-01-01T00:00Z',
    '2026-01-01 00:00:00Z',
    '2026-01-01t00:00:00z',
    '2026-01-01T00:00:00+0600',
    '2026-01-01T00:00:00+06',
    ' 2026-01-01T00:00:00Z',
    '2026-01-01T00:00:00Z ',
    '+02026-01-01T00:00:00Z',
    '26-01-01T00:00:00Z',
    '2026-1-01T00:00:00Z',
    '2026-01-01T00:00:00,5Z',
    '2026-01-01T00:00:00Z[America/Chicago]',
    '２０２６-01-01T00:00:00Z',
    '1767323045',
    `2026-01-01T00:00:00.${'1'.repeat(100)}Z`,
  ])('rejects %j', (text) => {
    const error = rejection(text);
    expect(error).toBeInstanceOf(UpstreamNotDtoError);
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error.code).toBe('not_a_dto');
    expect(error.message).toMatch(/^invalid date "/);
  });

  it('rejects a non-string with a typed error', () => {
    expect(() => parseUpstreamDate(1 as unknown as string, CHICAGO)).toThrow(UpstreamDateFormatError);
  });

  it('keeps rejected text out of the message beyond 100 characters and escapes control characters', () => {
    const error = rejection(`\u0007${'x'.repeat(63)}`);
    expect(error.message).toContain('\\u0007');
    expect(error.message).not.toContain('\u0007');
  });
});

describe('formatUtc', () => {
  it('cuts the fraction to the requested digits without rounding', () => {
    expect(formatUtc(1769903999999999900n, 7)).toBe('2026-01-31T23:59:59.9999999Z');
    expect(formatUtc(1769903999999999900n, 6)).toBe('2026-01-31T23:59:59.999999Z');
    expect(formatUtc(1769903999999999900n, 3)).toBe('2026-01-31T23:59:59.999Z');
    expect(formatUtc(1769903999999999900n, 0)).toBe('2026-01-31T23:59:59Z');
    expect(formatUtc(-1n, 9)).toBe('1969-12-31T23:59:59.999999999Z');
  });

  it('refuses instants outside years 0001..9999 and bad digit counts', () => {
    expect(() => formatUtc(DOTNET_MIN_EPOCH_NS - 1n, 7)).toThrow(RangeError);
    expect(() => formatUtc(DOTNET_MAX_EPOCH_NS + 100n, 7)).toThrow(RangeError);
    expect(formatUtc(DOTNET_MAX_EPOCH_NS + 99n, 9)).toBe('9999-12-31T23:59:59.999999999Z');
    expect(() => formatUtc(0n, 10)).toThrow(RangeError);
  });
});

describe('upstreamEpochNanoseconds', () => {
  it('gives the instant parseUpstreamDate gives, and refuses what it refuses with the same error', () => {
    for (const text of [
      '2025-12-10T08:22:52.8100855-06:00',
      '2025-12-10T14:22:52Z',
      '/Date(1765376572810-0600)/',
      '2025-03-09T02:30:00',
    ]) {
      expect(upstreamEpochNanoseconds(text, CHICAGO)).toBe(parseUpstreamDate(text, CHICAGO).epochNanoseconds);
    }
    expect(upstreamEpochNanoseconds('2025-12-10T08:22:52.8100855-06:00', CHICAGO)).toBe(1765376572810085500n);
    expect(() => upstreamEpochNanoseconds('2025-02-30T00:00:00Z', CHICAGO)).toThrow(
      new UpstreamDateFormatError('2025-02-30T00:00:00Z', 'day 30 does not exist in 2025-02'),
    );
  });
});

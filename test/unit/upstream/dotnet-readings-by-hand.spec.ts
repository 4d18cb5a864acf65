/**
 * The date and integer readings that are done by hand for speed (no RegExp, no bigint for the usual values) agree
 * with the forms' definitions: the ISO pattern the docs give, the bigint reading of a JSON number, and the full
 * reading of a date that is only checked.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  assumedTimeZone,
  checkUpstreamDateClamped,
  clampedEpochNanoseconds,
  parseUpstreamDate,
} from '../../../src/upstream/dotnet-date';
import { int32FromJsonNumber, int64FromJsonNumber } from '../../../src/upstream/parser/dto-fields';
import { integerFromJsonNumber } from '../../../src/upstream/parser/dotnet-integers';

/** The form of an ISO date-time as .NET writes it, as documented in dotnet-date.ts. */
const ISO_DATE_TIME =
  /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]*))?(Z|[+-][0-9]{2}:[0-9]{2})?$/;
const NOT_ISO = 'not an ISO 8601 date-time yyyy-MM-ddTHH:mm:ss[.fffffff][Z|±hh:mm] nor /Date(ms)/';

/** Date-like texts: valid ones, and ones with a character changed, dropped or added anywhere. */
const dateLike = fc
  .tuple(
    fc.integer({ min: 0, max: 9999 }),
    fc.integer({ min: 0, max: 13 }),
    fc.integer({ min: 0, max: 32 }),
    fc.integer({ min: 0, max: 24 }),
    fc.integer({ min: 0, max: 60 }),
    fc.integer({ min: 0, max: 60 }),
    fc.option(fc.stringMatching(/^[0-9]{0,9}$/)),
    fc.constantFrom('', 'Z', '+00:00', '-06:00', '+14:00', '-14:01', '+05:61', 'z', '+0600', '+06:0'),
  )
  .map(([y, mo, d, h, mi, s, fraction, offset]) => {
    const p = (n: number, w: number) => String(n).padStart(w, '0');
    return `${p(y, 4)}-${p(mo, 2)}-${p(d, 2)}T${p(h, 2)}:${p(mi, 2)}:${p(s, 2)}${fraction === null ? '' : `.${fraction}`}${offset}`;
  });
const mutated = fc
  .tuple(dateLike, fc.nat(40), fc.constantFrom('', 'x', '0', '-', ':', 'T', ' ', '.', '٣', 'Z'))
  .map(([text, at, insert]) => {
    const i = at % (text.length + 1);
    return at % 2 === 0 ? text.slice(0, i) + insert + text.slice(i + 1) : text.slice(0, i) + insert + text.slice(i);
  });
const texts = fc.oneof(dateLike, mutated, fc.string({ maxLength: 40 }));

function outcome(read: () => unknown): { value: unknown } | { error: string } {
  try {
    return { value: read() };
  } catch (error) {
    return { error: `${(error as Error).name}: ${(error as Error).message}` };
  }
}

describe('ISO date-times read by hand', () => {
  it('refuses exactly the texts outside the documented form, and reads the offset as it gives', () => {
    fc.assert(
      // `/Date(…)/` texts and texts over 64 characters are refused before the ISO reading.
      fc.property(
        texts.filter((text) => !text.startsWith('/') && text.length <= 64),
        (text) => {
          const match = ISO_DATE_TIME.exec(text);
          const read = outcome(() => parseUpstreamDate(text, 'America/Chicago'));
          expect('error' in read && read.error.endsWith(NOT_ISO)).toBe(match === null);
          if (match !== null && 'value' in read) {
            expect(assumedTimeZone(text, 'America/Chicago')).toBe(match[8] === undefined ? 'America/Chicago' : null);
          }
        },
      ),
      { numRuns: 5_000, seed: 20261204 },
    );
  });

  it('a date that is only checked fails exactly when reading it fails, with the same error', () => {
    fc.assert(
      fc.property(fc.oneof(texts, fc.constantFrom('/Date(0)/', '/Date(1+0500)/', '/Date(x)/')), (text) => {
        const checked = outcome(() => checkUpstreamDateClamped(text, 'America/Chicago'));
        const read = outcome(() => clampedEpochNanoseconds(text, 'America/Chicago'));
        expect('error' in checked ? checked : 'read').toStrictEqual('error' in read ? read : 'read');
      }),
      { numRuns: 5_000, seed: 20261205 },
    );
  });

  it('reads years below 100 as they are', () => {
    expect(parseUpstreamDate('0099-03-01T00:00:00Z', 'UTC').utc).toBe('0099-03-01T00:00:00.0000000Z');
    expect(parseUpstreamDate('0100-03-01T00:00:00.5+01:00', 'UTC').utc).toBe('0100-02-28T23:00:00.5000000Z');
  });
});

describe('JSON integers read without bigint when short', () => {
  const literals = fc.oneof(
    fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }).map(String),
    fc.integer().map(String),
    fc.constantFrom('0', '-0', '5.0', '5e0', '50E-1', '1e15', '999999999999999', '1000000000000000', '2147483648'),
  );

  it('give what the bigint reading gives, errors included', () => {
    fc.assert(
      fc.property(literals, (text) => {
        expect(outcome(() => int64FromJsonNumber(text, 'sourceId'))).toStrictEqual(
          outcome(() => integerFromJsonNumber(text, 'long', 'SourceId').toString()),
        );
        expect(outcome(() => int32FromJsonNumber(text))).toStrictEqual(
          outcome(() => Number(integerFromJsonNumber(text, 'int', 'SourceSystemId'))),
        );
      }),
      { numRuns: 5_000, seed: 20261206 },
    );
  });
});

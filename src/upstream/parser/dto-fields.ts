/**
 * The IntegrationStatusDTO members and the rules every format shares: which members exist, the .NET integer ranges,
 * the date checks and the shape of the result. The JSON and XML readers only find the values; these rules judge them.
 */
import { parseUpstreamDate, upstreamEpochNanoseconds } from '../dotnet-date';
import { UpstreamDateFormatError, UpstreamNotDtoError, quoteForMessage } from '../errors';
import type { IntegrationStatus } from '../integration-status';
import { asciiLower } from './text';

/** Options of {@link parseIntegrationStatus}. */
export interface ParseIntegrationStatusOptions {
  /** Time zone for date texts without an offset (.NET `DateTimeKind.Unspecified`), e.g. `America/Chicago`. */
  defaultTimeZone: string;
}

const INT32_MIN = -2147483648n;
const INT32_MAX = 2147483647n;
const INT64_MIN = -9223372036854775808n;
const INT64_MAX = 9223372036854775807n;

/** A JSON integer literal: no `+`, no leading zeros, no fraction, no exponent. XML integers must look the same. */
const INTEGER_LITERAL = /^-?(?:0|[1-9][0-9]*)$/;

type FieldKind = 'string' | 'int32' | 'int64' | 'date' | 'dictionary';

interface FieldSpec {
  /** Name as the upstream writes it (help page). */
  readonly wire: string;
  readonly kind: FieldKind;
}

/** The IntegrationStatusDTO members, from the help page's "Resource Description" table. */
export const FIELDS = {
  integrationName: { wire: 'IntegrationName', kind: 'string' },
  sourceSystemId: { wire: 'SourceSystemId', kind: 'int32' },
  lastRunStartDateTime: { wire: 'LastRunStartDateTime', kind: 'date' },
  lastRunEndDateTime: { wire: 'LastRunEndDateTime', kind: 'date' },
  processStatusMeaning: { wire: 'ProcessStatusMeaning', kind: 'string' },
  maxSyncDateTime: { wire: 'MaxSyncDateTime', kind: 'date' },
  maxSyncDateMaxPkId: { wire: 'MaxSyncDateMaxPKId', kind: 'int64' },
  sourceId: { wire: 'SourceId', kind: 'int64' },
  sourceIdString: { wire: 'SourceIdString', kind: 'string' },
  customDatabaseValues: { wire: 'CustomDatabaseValues', kind: 'dictionary' },
} as const satisfies Record<string, FieldSpec>;

export type FieldKey = keyof typeof FIELDS;
const FIELD_KEYS = Object.keys(FIELDS) as FieldKey[];

/** Lookup by ASCII-lower-cased wire name, so PascalCase, camelCase and `MaxSyncDateMaxPkId` all match. */
export const FIELD_BY_FOLDED_NAME = new Map<string, FieldKey>(
  FIELD_KEYS.map((key) => [asciiLower(FIELDS[key].wire), key]),
);

export type RawDto = Omit<IntegrationStatus, 'maxSyncDateTimeUtc'>;

/** Validates the three dates and derives `maxSyncDateTimeUtc`; field order as in `expected/*.json`. */
export function assemble(raw: RawDto, options: ParseIntegrationStatusOptions): IntegrationStatus {
  checkDate('lastRunStartDateTime', raw.lastRunStartDateTime, options, false);
  checkDate('lastRunEndDateTime', raw.lastRunEndDateTime, options, false);
  const maxSync = checkDate('maxSyncDateTime', raw.maxSyncDateTime, options, true);
  return {
    integrationName: raw.integrationName,
    sourceSystemId: raw.sourceSystemId,
    lastRunStartDateTime: raw.lastRunStartDateTime,
    lastRunEndDateTime: raw.lastRunEndDateTime,
    processStatusMeaning: raw.processStatusMeaning,
    maxSyncDateTime: raw.maxSyncDateTime,
    maxSyncDateTimeUtc: maxSync,
    maxSyncDateMaxPkId: raw.maxSyncDateMaxPkId,
    sourceId: raw.sourceId,
    sourceIdString: raw.sourceIdString,
    customDatabaseValues: raw.customDatabaseValues,
  };
}

/** Checks a date field; returns its .NET "O" UTC form when `wantUtc` (only the watermark's is kept), else null. */
function checkDate(
  key: FieldKey,
  text: string | null,
  options: ParseIntegrationStatusOptions,
  wantUtc: boolean,
): string | null {
  if (text === null) return null;
  try {
    if (!wantUtc) {
      upstreamEpochNanoseconds(text, options.defaultTimeZone);
      return null;
    }
    return parseUpstreamDate(text, options.defaultTimeZone).utc;
  } catch (error) {
    if (error instanceof UpstreamDateFormatError) {
      throw new UpstreamNotDtoError(`${FIELDS[key].wire}: ${error.message}`, { field: FIELDS[key].wire, cause: error });
    }
    throw error;
  }
}

export function requireAll(present: Set<FieldKey>, what: string): void {
  const missing = FIELD_KEYS.filter((key) => !present.has(key)).map((key) => FIELDS[key].wire);
  if (missing.length > 0) {
    throw new UpstreamNotDtoError(
      `upstream IntegrationStatusDTO lacks the ${what}${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (every member must be present, null if empty)`,
      { field: missing[0] },
    );
  }
}

export function wrongType(key: FieldKey, expected: string, got: string): UpstreamNotDtoError {
  const wire = FIELDS[key].wire;
  return new UpstreamNotDtoError(`${wire} must be ${expected}, got ${got}`, { field: wire });
}

function showLiteral(text: string): string {
  return quoteForMessage(text, 40);
}

/** .NET `long` from an integer literal → canonical decimal string (`-0` → `0`). */
export function int64FromLiteral(text: string, key: FieldKey): string {
  const wire = FIELDS[key].wire;
  if (!INTEGER_LITERAL.test(text)) {
    throw new UpstreamNotDtoError(
      `${wire} must be an integer literal (no sign +, leading zeros, fraction, exponent or spaces), got ${showLiteral(text)}`,
      { field: wire },
    );
  }
  // 20 characters hold every int64 ("-9223372036854775808"); longer is out of range for sure.
  const value = text.length > 20 ? null : BigInt(text);
  if (value === null || value < INT64_MIN || value > INT64_MAX) {
    throw new UpstreamNotDtoError(`${wire} ${showLiteral(text)} is outside the .NET long (int64) range`, {
      field: wire,
    });
  }
  return value.toString();
}

/** XML `SourceSystemId`: an integer literal within .NET `int`. */
export function int32FromLiteral(text: string): number {
  const wire = FIELDS.sourceSystemId.wire;
  if (!INTEGER_LITERAL.test(text)) {
    throw new UpstreamNotDtoError(
      `${wire} must be an integer literal (no sign +, leading zeros, fraction, exponent or spaces), got ${showLiteral(text)}`,
      { field: wire },
    );
  }
  return int32InRange(text.length > 11 ? null : BigInt(text), text);
}

/**
 * JSON `SourceSystemId`: any JSON number whose exact value is an integer (`2`, `2.0`, `2e0`, `-0`)
 * within .NET `int`. Evaluated on the literal's digits, never through float64.
 */
export function int32FromJsonNumber(text: string): number {
  const wire = FIELDS.sourceSystemId.wire;
  const notInteger = () =>
    new UpstreamNotDtoError(`${wire} must be an integer (.NET int), got ${showLiteral(text)}`, { field: wire });
  // lossless-json has already checked the JSON number grammar.
  const m = /^(-?)([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?)([0-9]+))?$/.exec(text);
  if (m === null) throw notInteger();
  const [, sign, intPart, fraction = '', exponentSign = '', exponentDigits = '0'] = m;
  let digits = (intPart + fraction).replace(/^0+/, '');
  if (digits === '') return 0; // zero in any spelling
  const exponentMagnitude = exponentDigits.replace(/^0+/, '');
  if (exponentMagnitude.length > 6) {
    // A non-zero value times 10^(±huge): a tiny fraction or a huge number.
    if (exponentSign === '-') throw notInteger();
    return int32InRange(null, text);
  }
  let exponent = (exponentSign === '-' ? -1 : 1) * Number(exponentMagnitude || '0') - fraction.length;
  while (exponent < 0 && digits.endsWith('0')) {
    digits = digits.slice(0, -1);
    exponent += 1;
  }
  if (exponent < 0) throw notInteger();
  if (digits.length + exponent > 11) return int32InRange(null, text);
  const magnitude = BigInt(digits + '0'.repeat(exponent));
  return int32InRange(sign === '-' ? -magnitude : magnitude, text);
}

/** `value` null means "certainly out of range" (too many digits to bother converting). */
function int32InRange(value: bigint | null, text: string): number {
  const wire = FIELDS.sourceSystemId.wire;
  if (value === null || value < INT32_MIN || value > INT32_MAX) {
    throw new UpstreamNotDtoError(`${wire} ${showLiteral(text)} is outside the .NET int (int32) range`, {
      field: wire,
    });
  }
  return Number(value);
}

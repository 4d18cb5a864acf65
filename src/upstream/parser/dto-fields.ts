/**
 * The IntegrationStatusDTO members and the rules every format shares: which members exist, the .NET integer ranges,
 * the date checks and the shape of the result. The JSON and XML readers only find the values; these rules judge them.
 */
import { checkUpstreamDateClamped, parseUpstreamDateClamped } from '../dotnet-date';
import { UpstreamDateFormatError, UpstreamNotDtoError } from '../errors';
import type { IntegrationStatus } from '../integration-status';
import { integerFromJsonNumber, integerFromText } from './dotnet-integers';
import { asciiLower } from './text';

/** Options of {@link parseIntegrationStatus}. */
export interface ParseIntegrationStatusOptions {
  /** Time zone for date texts without an offset (.NET `DateTimeKind.Unspecified`), e.g. `America/Chicago`. */
  defaultTimeZone: string;
}

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

/**
 * Checks a date field as .NET reads it (an instant outside the DateTime range clamps, see `parseUpstreamDateClamped`);
 * returns its .NET "O" UTC form when `wantUtc` (only the watermark's is kept), else null.
 */
function checkDate(
  key: FieldKey,
  text: string | null,
  options: ParseIntegrationStatusOptions,
  wantUtc: boolean,
): string | null {
  if (text === null) return null;
  try {
    if (!wantUtc) {
      checkUpstreamDateClamped(text, options.defaultTimeZone);
      return null;
    }
    return parseUpstreamDateClamped(text, options.defaultTimeZone).utc;
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

/** .NET `long` from text (XML content or a JSON string) → canonical decimal string. */
export function int64FromLiteral(text: string, key: FieldKey): string {
  return integerFromText(text, 'long', FIELDS[key].wire).toString();
}

/**
 * True for a JSON number literal that is `0` or an integer of 1 to 15 digits without leading zeros, optionally
 * negative: the usual id. It is its own canonical text, and exact as a float64.
 */
function isShortCanonicalInteger(text: string): boolean {
  const start = text.charCodeAt(0) === 45 /* - */ ? 1 : 0;
  const digits = text.length - start;
  if (digits < 1 || digits > 15) return false;
  if (text.charCodeAt(start) === 48 /* 0 */) return text === '0';
  for (let i = start; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 48 || code > 57) return false;
  }
  return true;
}

/** .NET `long` from a JSON number whose exact value is whole → canonical decimal string. */
export function int64FromJsonNumber(text: string, key: FieldKey): string {
  if (isShortCanonicalInteger(text)) return text;
  return integerFromJsonNumber(text, 'long', FIELDS[key].wire).toString();
}

/** `SourceSystemId` (.NET `int`) from text (XML content or a JSON string). */
export function int32FromLiteral(text: string): number {
  return Number(integerFromText(text, 'int', FIELDS.sourceSystemId.wire));
}

/** `SourceSystemId` (.NET `int`) from a JSON number whose exact value is whole. */
export function int32FromJsonNumber(text: string): number {
  if (isShortCanonicalInteger(text)) {
    const value = Number(text);
    if (value >= -2147483648 && value <= 2147483647) return value;
  }
  return Number(integerFromJsonNumber(text, 'int', FIELDS.sourceSystemId.wire));
}

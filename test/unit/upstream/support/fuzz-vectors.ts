/**
 * Property-based fuzzing of `parseIntegrationStatus` with fast-check, seeded by the vectors in
 * test/fixtures/upstream/responses: random variations either parse to the expected/ twin (when the
 * variation keeps the meaning) or raise the parser's own typed error (an UpstreamError), never
 * anything else. Runs are bounded so the file stays within a few seconds.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import fc from 'fast-check';
import { expect } from 'vitest';
import { UpstreamError } from '../../../../src/upstream/errors';
import type { IntegrationStatus } from '../../../../src/upstream/integration-status';
import { parseIntegrationStatus } from '../../../../src/upstream/integration-status.parser';
import { expectedStatus } from './expected';

// The vectors, the outcome checks and the arbitraries shared by the parser.fuzz.*.spec.ts files; the
// meaning-preserving rewrites of JSON and XML documents are in ./fuzz-documents.ts.

export const FIXTURES = resolve(__dirname, '../../../fixtures/upstream');
export const OPTIONS = { defaultTimeZone: 'America/Chicago' };
export const RUNS = 300;

export const read = (name: string) => readFileSync(resolve(FIXTURES, name));
export const expectedOf = expectedStatus;

export const JSON_VECTORS = ['seed-sample', 'seed-sample-compact', 'int64-ids', 'first-run-null'].map((name) => ({
  name,
  raw: read(`responses/${name}.json`),
  expected: expectedOf(name),
}));
export const XML_VECTORS = ['seed-sample', 'first-run-nil'].map((name) => ({
  name,
  raw: read(`responses/${name}.xml`),
  expected: expectedOf(name),
}));

export type Outcome = { ok: IntegrationStatus } | { error: UpstreamError };

/** Parses; an UpstreamError is an outcome, anything else thrown fails the property. */
export function outcome(body: Buffer | string, contentType: string | undefined): Outcome {
  try {
    return { ok: parseIntegrationStatus(body, contentType, OPTIONS) };
  } catch (error) {
    if (error instanceof UpstreamError) return { error };
    throw new Error(`parser threw something other than an UpstreamError: ${String(error)}`, { cause: error });
  }
}

export const STATUS_KEYS = [
  'integrationName',
  'sourceSystemId',
  'lastRunStartDateTime',
  'lastRunEndDateTime',
  'processStatusMeaning',
  'maxSyncDateTime',
  'maxSyncDateTimeUtc',
  'maxSyncDateMaxPkId',
  'sourceId',
  'sourceIdString',
  'customDatabaseValues',
];

/** What any successful parse must look like, whatever the input. */
export function expectDtoShape(status: IntegrationStatus): void {
  expect(Object.keys(status)).toStrictEqual(STATUS_KEYS);
  const nullableString = (v: unknown) => v === null || typeof v === 'string';
  expect(nullableString(status.integrationName)).toBe(true);
  expect(
    status.sourceSystemId === null ||
      (Number.isSafeInteger(status.sourceSystemId) && Math.abs(status.sourceSystemId) <= 2 ** 31),
  ).toBe(true);
  for (const key of [
    'lastRunStartDateTime',
    'lastRunEndDateTime',
    'processStatusMeaning',
    'maxSyncDateTime',
    'sourceIdString',
  ] as const) {
    expect(nullableString(status[key])).toBe(true);
  }
  expect(status.maxSyncDateTimeUtc === null).toBe(status.maxSyncDateTime === null);
  if (status.maxSyncDateTimeUtc !== null)
    expect(status.maxSyncDateTimeUtc).toMatch(/^-?\d{4,6}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z$/);
  for (const key of ['maxSyncDateMaxPkId', 'sourceId'] as const) {
    const v = status[key];
    if (v !== null) {
      expect(v).toMatch(/^(0|-?[1-9]\d*)$/);
      expect(BigInt(v) >= -(2n ** 63n) && BigInt(v) < 2n ** 63n).toBe(true);
    }
  }
  const dict = status.customDatabaseValues;
  if (dict !== null) {
    expect(Array.isArray(dict)).toBe(true);
    for (const entry of dict) {
      expect([entry.length, typeof entry[0], nullableString(entry[1])]).toStrictEqual([2, 'string', true]);
    }
    expect(new Set(dict.map(([key]) => key)).size).toBe(dict.length);
  }
}

/** Either the right values or a typed error. */
export function expectRightOrTyped(result: Outcome, expected: IntegrationStatus): void {
  if ('ok' in result) expect(result.ok).toStrictEqual(expected);
  else expect(result.error).toBeInstanceOf(UpstreamError);
}

/** Either some well-formed DTO or a typed error (for variations that change the meaning). */
export function expectShapeOrTyped(result: Outcome): void {
  if ('ok' in result) expectDtoShape(result.ok);
  else expect(result.error).toBeInstanceOf(UpstreamError);
}

// ---- shared arbitraries ------------------------------------------------------------------------

export const whitespace = fc.string({ unit: fc.constantFrom(' ', '\t', '\n', '\r', '\r\n'), maxLength: 3 });
export const whitespaces = fc.array(whitespace, { minLength: 1, maxLength: 64 });
/** A casing for a name: per-character flips (names are matched ASCII-case-insensitively). */
export const casing = fc.array(fc.boolean(), { minLength: 32, maxLength: 32 });
export const casings = fc.array(casing, { minLength: 16, maxLength: 16 });

export function recase(name: string, flips: boolean[]): string {
  return [...name]
    .map((c, i) => (flips[i % flips.length] ? (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) : c))
    .join('');
}

/** A cycling supply of whitespace strings. */
export function wsSupply(list: string[]): () => string {
  let i = 0;
  return () => list[i++ % list.length];
}

export type Encoding = 'utf-8' | 'utf-8-bom' | 'utf-16le-bom';
export const encodings = fc.constantFrom<Encoding>('utf-8', 'utf-8-bom', 'utf-16le-bom');

export function encode(text: string, encoding: Encoding): Buffer {
  if (encoding === 'utf-8') return Buffer.from(text, 'utf8');
  if (encoding === 'utf-8-bom') return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]);
  return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
}

/** A Content-Type that agrees with the encoding (a BOM decides when no charset is declared). */
export function contentTypeFor(base: string | undefined, encoding: Encoding, withCharset: boolean): string | undefined {
  if (base === undefined || !withCharset) return base;
  return `${base}; charset=${encoding === 'utf-16le-bom' ? 'utf-16' : 'utf-8'}`;
}

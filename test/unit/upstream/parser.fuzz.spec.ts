/**
 * Property-based fuzzing of `parseIntegrationStatus` with fast-check, seeded by the vectors in
 * test/fixtures/upstream/responses: random variations either parse to the expected/ twin (when the
 * variation keeps the meaning) or raise the parser's own typed error (an UpstreamError), never
 * anything else. Runs are bounded so the file stays within a few seconds.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import fc from 'fast-check';
import { LosslessNumber, parse as parseLossless } from 'lossless-json';
import { describe, expect, it } from 'vitest';
import { UpstreamError } from '../../../src/upstream/errors';
import type { IntegrationStatus } from '../../../src/upstream/integration-status';
import {
  type XmlElement,
  parseIntegrationStatus,
  parseXmlDocument,
} from '../../../src/upstream/integration-status.parser';
import { expectedStatus } from './support/expected';

const FIXTURES = resolve(__dirname, '../../fixtures/upstream');
const OPTIONS = { defaultTimeZone: 'America/Chicago' };
const RUNS = 300;

const read = (name: string) => readFileSync(resolve(FIXTURES, name));
const expectedOf = expectedStatus;

const JSON_VECTORS = ['seed-sample', 'seed-sample-compact', 'int64-ids', 'first-run-null'].map((name) => ({
  name,
  raw: read(`responses/${name}.json`),
  expected: expectedOf(name),
}));
const XML_VECTORS = ['seed-sample', 'first-run-nil'].map((name) => ({
  name,
  raw: read(`responses/${name}.xml`),
  expected: expectedOf(name),
}));

type Outcome = { ok: IntegrationStatus } | { error: UpstreamError };

/** Parses; an UpstreamError is an outcome, anything else thrown fails the property. */
function outcome(body: Buffer | string, contentType: string | undefined): Outcome {
  try {
    return { ok: parseIntegrationStatus(body, contentType, OPTIONS) };
  } catch (error) {
    if (error instanceof UpstreamError) return { error };
    throw new Error(`parser threw something other than an UpstreamError: ${String(error)}`, { cause: error });
  }
}

const STATUS_KEYS = [
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
function expectDtoShape(status: IntegrationStatus): void {
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
function expectRightOrTyped(result: Outcome, expected: IntegrationStatus): void {
  if ('ok' in result) expect(result.ok).toStrictEqual(expected);
  else expect(result.error).toBeInstanceOf(UpstreamError);
}

/** Either some well-formed DTO or a typed error (for variations that change the meaning). */
function expectShapeOrTyped(result: Outcome): void {
  if ('ok' in result) expectDtoShape(result.ok);
  else expect(result.error).toBeInstanceOf(UpstreamError);
}

// ---- shared arbitraries ------------------------------------------------------------------------

const whitespace = fc.string({ unit: fc.constantFrom(' ', '\t', '\n', '\r', '\r\n'), maxLength: 3 });
const whitespaces = fc.array(whitespace, { minLength: 1, maxLength: 64 });
/** A casing for a name: per-character flips (names are matched ASCII-case-insensitively). */
const casing = fc.array(fc.boolean(), { minLength: 32, maxLength: 32 });
const casings = fc.array(casing, { minLength: 16, maxLength: 16 });

function recase(name: string, flips: boolean[]): string {
  return [...name]
    .map((c, i) => (flips[i % flips.length] ? (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) : c))
    .join('');
}

/** A cycling supply of whitespace strings. */
function wsSupply(list: string[]): () => string {
  let i = 0;
  return () => list[i++ % list.length];
}

type Encoding = 'utf-8' | 'utf-8-bom' | 'utf-16le-bom';
const encodings = fc.constantFrom<Encoding>('utf-8', 'utf-8-bom', 'utf-16le-bom');

function encode(text: string, encoding: Encoding): Buffer {
  if (encoding === 'utf-8') return Buffer.from(text, 'utf8');
  if (encoding === 'utf-8-bom') return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]);
  return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
}

/** A Content-Type that agrees with the encoding (a BOM decides when no charset is declared). */
function contentTypeFor(base: string | undefined, encoding: Encoding, withCharset: boolean): string | undefined {
  if (base === undefined || !withCharset) return base;
  return `${base}; charset=${encoding === 'utf-16le-bom' ? 'utf-16' : 'utf-8'}`;
}

// ---- JSON ----------------------------------------------------------------------------------

type Json = null | boolean | string | LosslessNumber | Json[] | { [key: string]: Json };

function parseVector(raw: Buffer): Array<[string, Json]> {
  return Object.entries(parseLossless(raw.toString('utf8')) as Record<string, Json>);
}

/** JSON text with `ws()` between every two tokens. */
function writeJson(value: Json, ws: () => string): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (value instanceof LosslessNumber) return value.value;
  if (Array.isArray(value)) return `[${ws()}${value.map((v) => `${writeJson(v, ws)}${ws()}`).join(`,${ws()}`)}]`;
  return writeObject(Object.entries(value), ws);
}

function writeObject(entries: Array<[string, Json]> | Array<[string, string]>, ws: () => string, raw = false): string {
  const members = entries.map(
    ([k, v]) => `${ws()}${JSON.stringify(k)}${ws()}:${ws()}${raw ? (v as string) : writeJson(v, ws)}${ws()}`,
  );
  return `{${members.join(',')}${ws()}}`;
}

/** SourceSystemId spellings that keep its integral value. */
const INT32_FORMS: Array<(n: string) => string> = [
  (n) => n,
  (n) => `${n}.0`,
  (n) => `${n}e0`,
  (n) => `${n}E+00`,
  (n) => `${n}0e-1`,
  (n) => `${n}.000e0`,
  (n) => `${n}00E-2`,
];

const jsonVariation = fc.record({
  vector: fc.nat(JSON_VECTORS.length - 1),
  order: fc.shuffledSubarray([...Array(10).keys()], { minLength: 10, maxLength: 10 }),
  casings,
  whitespaces,
  extras: fc.array(fc.tuple(fc.nat(20), fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 })), { maxLength: 4 }),
  idForm: fc.nat(INT32_FORMS.length - 1),
  dictAsArray: fc.boolean(),
  dictOrder: fc.shuffledSubarray([...Array(8).keys()], { minLength: 8, maxLength: 8 }),
  encoding: encodings,
  contentType: fc.constantFrom('application/json', 'text/json', 'application/problem+json', 'text/html', undefined),
  withCharset: fc.boolean(),
});

type JsonVariation = typeof jsonVariation extends fc.Arbitrary<infer T> ? T : never;

/** A meaning-preserving rewrite of a JSON vector. */
function buildJson(v: JsonVariation): { body: Buffer; contentType: string | undefined; expected: IntegrationStatus } {
  const vector = JSON_VECTORS[v.vector];
  const ws = wsSupply(v.whitespaces);
  const fields = parseVector(vector.raw);
  let expected = vector.expected;
  const members: Array<[string, string]> = v.order
    .filter((i) => i < fields.length)
    .map((i) => {
      const [name, value] = fields[i];
      let text: string;
      if (name === 'SourceSystemId' && value instanceof LosslessNumber) text = INT32_FORMS[v.idForm](value.value);
      else if (name === 'CustomDatabaseValues' && value !== null) {
        // The entries in another order, which the parse must keep.
        const entries = Object.entries(value as Record<string, Json>);
        const ordered = v.dictOrder.filter((j) => j < entries.length).map((j) => entries[j]);
        expected = { ...expected, customDatabaseValues: ordered as Array<[string, string | null]> };
        text = v.dictAsArray
          ? writeJson(
              ordered.map(([key, val], j) => ({
                [recase('Key', v.casings[j % 16])]: key,
                [recase('Value', v.casings[(j + 5) % 16])]: val,
              })),
              ws,
            )
          : writeObject(ordered, ws);
      } else text = writeJson(value, ws);
      return [recase(name, v.casings[i]), text];
    });
  // Unknown members anywhere among the known ones; their names cannot fold to a field name.
  v.extras.forEach(([at, suffix, value], j) => {
    members.splice(at % (members.length + 1), 0, [`zz-extra-${j}-${suffix}`, JSON.stringify(value) ?? 'null']);
  });
  const text = `${ws()}${writeObject(members, ws, true)}${ws()}`;
  return {
    body: encode(text, v.encoding),
    contentType: contentTypeFor(v.contentType, v.encoding, v.withCharset),
    expected,
  };
}

describe('parser fuzz: JSON', () => {
  it('the vectors themselves parse to their expected twins', () => {
    for (const v of JSON_VECTORS)
      expect(parseIntegrationStatus(v.raw, 'application/json; charset=utf-8', OPTIONS)).toStrictEqual(v.expected);
    for (const v of XML_VECTORS)
      expect(parseIntegrationStatus(v.raw, 'application/xml; charset=utf-8', OPTIONS)).toStrictEqual(v.expected);
  });

  it('name casing, whitespace, member order, unknown members, number forms, dictionary forms and encodings keep the values', () => {
    fc.assert(
      fc.property(jsonVariation, (v) => {
        const { body, contentType, expected } = buildJson(v);
        const result = outcome(body, contentType);
        if ('error' in result)
          throw new Error(
            `a meaning-preserving variation was refused: ${result.error.message}\n${body.toString(v.encoding === 'utf-16le-bom' ? 'utf16le' : 'utf8')}`,
          );
        expect(result.ok).toStrictEqual(expected);
      }),
      { numRuns: RUNS },
    );
  });

  it('other spellings of the int64 fields are exact or a typed error', () => {
    const forms = fc.constantFrom<(n: string) => string>(
      (n) => n,
      (n) => `${n}.0`,
      (n) => `${n}e0`,
      (n) => `0${n}`,
      (n) => `-${n}`,
      (n) => `"${n}"`,
      (n) => `${n}${n}`,
    );
    fc.assert(
      fc.property(fc.nat(JSON_VECTORS.length - 1), forms, forms, (index, pkForm, idForm) => {
        const vector = JSON_VECTORS[index];
        const members = parseVector(vector.raw).map(([name, value]): [string, string] => {
          const text = writeJson(value, () => '');
          if (!(value instanceof LosslessNumber)) return [name, text];
          if (name === 'MaxSyncDateMaxPKId') return [name, pkForm(text)];
          if (name === 'SourceId') return [name, idForm(text)];
          return [name, text];
        });
        const body = writeObject(members, () => '', true);
        const result = outcome(body, 'application/json');
        if (pkForm('7') === '7' && idForm('7') === '7') expect(result).toStrictEqual({ ok: vector.expected });
        else if ('ok' in result) {
          // A sign flip or repeated digits is a different number that may still be a valid long.
          expectDtoShape(result.ok);
        } else expect(result.error).toBeInstanceOf(UpstreamError);
      }),
      { numRuns: 200 },
    );
  });

  it('any field replaced by a random JSON value gives a well-formed DTO or a typed error', () => {
    fc.assert(
      fc.property(
        fc.nat(JSON_VECTORS.length - 1),
        fc.array(fc.tuple(fc.nat(9), fc.jsonValue({ maxDepth: 3 })), { minLength: 1, maxLength: 3 }),
        (index, replacements) => {
          const members = parseVector(JSON_VECTORS[index].raw).map(([name, value]): [string, string] => [
            name,
            writeJson(value, () => ''),
          ]);
          for (const [at, value] of replacements) members[at][1] = JSON.stringify(value) ?? 'null';
          expectShapeOrTyped(
            outcome(
              writeObject(members, () => ' ', true),
              'application/json',
            ),
          );
        },
      ),
      { numRuns: RUNS },
    );
  });
});

// ---- XML -----------------------------------------------------------------------------------

const DTO_NS = 'http://schemas.datacontract.org/2004/07/Gravitate.WCF.DTO.Integration';
const XSI_NS = 'http://www.w3.org/2001/XMLSchema-instance';
const ARRAYS_NS = 'http://schemas.microsoft.com/2003/10/Serialization/Arrays';

interface XmlField {
  name: string;
  nil: boolean;
  text: string;
  /** CustomDatabaseValues items when not nil. */
  items?: Array<{ key: string; value: string | null }>;
}

function elementsOf(element: XmlElement): XmlElement[] {
  return element.children.filter((c): c is XmlElement => c.kind === 'element');
}
function textOf(element: XmlElement): string {
  return element.children.map((c) => (c.kind === 'text' ? c.value : '')).join('');
}
function nilOf(element: XmlElement): boolean {
  return element.attributes.some((a) => a.localName === 'nil' && a.value === 'true');
}

/** The vector as a list of fields, read with the parser's own namespace-aware XML reader. */
function xmlModel(raw: Buffer): XmlField[] {
  return elementsOf(parseXmlDocument(raw.toString('utf8'))).map((element) => ({
    name: element.localName,
    nil: nilOf(element),
    text: textOf(element),
    ...(element.localName === 'CustomDatabaseValues' && !nilOf(element)
      ? {
          items: elementsOf(element).map((item) => {
            const [key, value] = ['Key', 'Value'].map((n) => elementsOf(item).find((e) => e.localName === n)!);
            return { key: textOf(key), value: nilOf(value) ? null : textOf(value) };
          }),
        }
      : {}),
  }));
}

/** Text content written as plain escaped characters, character references, or CDATA. */
function writeText(text: string, style: number, flips: boolean[]): string {
  if (style === 2 && !text.includes(']]>') && text !== '') return `<![CDATA[${text}]]>`;
  return [...text]
    .map((c, i) => {
      if (style === 1 && flips[i % flips.length]) {
        const code = c.codePointAt(0)!;
        return flips[(i + 1) % flips.length] ? `&#x${code.toString(16)};` : `&#${code};`;
      }
      return c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c;
    })
    .join('');
}

const PREFIXES = ['a', 'b', 'dto', 'q1', 'xsi', 'i', 'd2p1', 'arr', 'n0'];

const xmlVariation = fc.record({
  vector: fc.nat(XML_VECTORS.length - 1),
  declaration: fc.boolean(),
  prefixes: fc.shuffledSubarray(PREFIXES, { minLength: 3, maxLength: 3 }),
  rootPrefixed: fc.boolean(),
  itemsDefaultNs: fc.boolean(),
  order: fc.shuffledSubarray([...Array(10).keys()], { minLength: 10, maxLength: 10 }),
  itemOrder: fc.shuffledSubarray([...Array(8).keys()], { minLength: 8, maxLength: 8 }),
  valueFirst: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
  casings,
  whitespaces,
  textStyles: fc.array(fc.nat(2), { minLength: 16, maxLength: 16 }),
  nilStyle: fc.constantFrom('self', 'pair', 'one'),
  extras: fc.array(
    fc.tuple(fc.nat(20), fc.constantFrom('text', 'nested', 'empty', 'comment'), fc.string({ maxLength: 12 })),
    { maxLength: 4 },
  ),
  encoding: encodings,
  contentType: fc.constantFrom('application/xml', 'text/xml', 'application/atom+xml', 'text/html', undefined),
  withCharset: fc.boolean(),
});

type XmlVariation = typeof xmlVariation extends fc.Arbitrary<infer T> ? T : never;

/** A meaning-preserving rewrite of an XML vector. */
function buildXml(v: XmlVariation): { body: Buffer; contentType: string | undefined; expected: IntegrationStatus } {
  const vector = XML_VECTORS[v.vector];
  const ws = wsSupply(v.whitespaces);
  const [dtoPrefix, xsiPrefix, arraysPrefix] = v.prefixes as [string, string, string];
  const q = (name: string) => (v.rootPrefixed ? `${dtoPrefix}:${name}` : name);
  const nil = (name: string) =>
    v.nilStyle === 'self'
      ? `<${name} ${xsiPrefix}:nil="true"${ws()}/>`
      : v.nilStyle === 'pair'
        ? `<${name} ${xsiPrefix}:nil="true"></${name}>`
        : `<${name}${ws() || ' '}${xsiPrefix}:nil="1"/>`;
  const fields = xmlModel(vector.raw);
  let expected = vector.expected;
  const parts = v.order
    .filter((i) => i < fields.length)
    .map((i) => {
      const field = fields[i];
      const name = q(recase(field.name, v.casings[i]));
      if (field.nil) return nil(name);
      if (field.items !== undefined) {
        const itemName = v.itemsDefaultNs ? 'KeyValueOfstringstring' : `${arraysPrefix}:KeyValueOfstringstring`;
        const inner = (n: string) => (v.itemsDefaultNs ? n : `${arraysPrefix}:${n}`);
        const order = v.itemOrder.filter((j) => j < field.items!.length);
        // The items in another order, which the parse must keep.
        const ordered = order.map((j): [string, string | null] => [field.items![j].key, field.items![j].value]);
        expected = { ...expected, customDatabaseValues: ordered };
        const items = order
          .map((j) => {
            const { key, value } = field.items![j];
            const k = `<${inner(recase('Key', v.casings[j]))}>${writeText(key, v.textStyles[j], v.casings[j])}</${inner(recase('Key', v.casings[j]))}>`;
            const valueName = inner(recase('Value', v.casings[(j + 7) % 16]));
            const val =
              value === null
                ? nil(valueName)
                : `<${valueName}>${writeText(value, v.textStyles[j + 8], v.casings[j + 1])}</${valueName}>`;
            const pair = v.valueFirst[j] ? [val, k] : [k, val];
            const decl = v.itemsDefaultNs ? ` xmlns="${ARRAYS_NS}"` : '';
            return `${ws()}<${itemName}${decl}>${ws()}${pair.join(ws())}${ws()}</${itemName}>`;
          })
          .join('');
        const decl = v.itemsDefaultNs ? '' : ` xmlns:${arraysPrefix}="${ARRAYS_NS}"`;
        return `<${name}${decl}>${items}${ws()}</${name}>`;
      }
      return `<${name}>${writeText(field.text, v.textStyles[i], v.casings[i])}</${name}>`;
    });
  v.extras.forEach(([at, kind, text], j) => {
    const safe = writeText(text, 0, []);
    const name = q(`ZzUnknown${j}`);
    const extra =
      kind === 'text'
        ? `<${name}>${safe}</${name}>`
        : kind === 'nested'
          ? `<${name} attr="${safe.replace(/"/g, '&quot;')}"><${q('SourceId')}>not the field</${q('SourceId')}><Inner>${safe}</Inner></${name}>`
          : kind === 'empty'
            ? `<${name}/>`
            : `<!--${text.replace(/-/g, '_')}-->`;
    parts.splice(at % (parts.length + 1), 0, extra);
  });
  const rootDecl = v.rootPrefixed ? `xmlns:${dtoPrefix}="${DTO_NS}"` : `xmlns="${DTO_NS}"`;
  const declaration = v.declaration
    ? `<?xml version="1.0" encoding="${v.encoding === 'utf-16le-bom' ? 'utf-16' : 'utf-8'}"?>${ws()}`
    : '';
  const text =
    `${declaration}<${q('IntegrationStatusDTO')} xmlns:${xsiPrefix}="${XSI_NS}" ${rootDecl}${ws()}>` +
    parts.map((p) => `${ws()}${p}`).join('') +
    `${ws()}</${q('IntegrationStatusDTO')}>${ws()}`;
  return {
    body: encode(text, v.encoding),
    contentType: contentTypeFor(v.contentType, v.encoding, v.withCharset),
    expected,
  };
}

describe('parser fuzz: XML', () => {
  it('element order, namespace prefixes, name casing, whitespace, unknown elements, comments, references, CDATA and encodings keep the values', () => {
    fc.assert(
      fc.property(xmlVariation, (v) => {
        const { body, contentType, expected } = buildXml(v);
        const result = outcome(body, contentType);
        if ('error' in result)
          throw new Error(
            `a meaning-preserving variation was refused: ${result.error.message}\n${body.toString(v.encoding === 'utf-16le-bom' ? 'utf16le' : 'utf8')}`,
          );
        expect(result.ok).toStrictEqual(expected);
      }),
      { numRuns: RUNS },
    );
  });
});

// ---- damage ----------------------------------------------------------------------------------

/** A meaning-preserving variation of any vector, JSON or XML. */
const anyVariation = fc.oneof(
  jsonVariation.map((v) => buildJson(v)),
  xmlVariation.map((v) => buildXml(v)),
);

describe('parser fuzz: damaged and random input', () => {
  it('a body cut short at any point gives the right values (only trailing whitespace went) or a typed error', () => {
    fc.assert(
      fc.property(anyVariation, fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), (doc, where) => {
        const cut = doc.body.subarray(0, Math.floor(where * doc.body.length));
        expectRightOrTyped(outcome(cut, doc.contentType), doc.expected);
      }),
      { numRuns: RUNS },
    );
  });

  it('random byte flips give a well-formed DTO or a typed error', () => {
    fc.assert(
      fc.property(
        anyVariation,
        fc.array(
          fc.tuple(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), fc.integer({ min: 1, max: 255 })),
          { minLength: 1, maxLength: 4 },
        ),
        (doc, flips) => {
          const body = Buffer.from(doc.body);
          for (const [where, mask] of flips) {
            const at = Math.floor(where * body.length);
            body[at] = body[at] ^ mask;
          }
          expectShapeOrTyped(outcome(body, doc.contentType));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('random junk spliced into a vector gives a well-formed DTO or a typed error', () => {
    fc.assert(
      fc.property(
        anyVariation,
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        fc.uint8Array({ minLength: 1, maxLength: 32 }),
        (doc, where, junk) => {
          const at = Math.floor(where * doc.body.length);
          const body = Buffer.concat([doc.body.subarray(0, at), junk, doc.body.subarray(at)]);
          expectShapeOrTyped(outcome(body, doc.contentType));
        },
      ),
      { numRuns: RUNS },
    );
  });

  const contentTypes = fc.constantFrom(
    'application/json',
    'application/xml',
    'text/xml; charset=utf-16',
    'text/html; charset=utf-8',
    'application/json; charset=us-ascii',
    'text/plain; charset=koi8-r',
    'application/octet-stream',
    '',
    undefined,
  );

  it('random bytes, text and JSON values give a well-formed DTO or a typed error', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)),
          fc.string({ unit: 'binary', maxLength: 256 }),
          fc.jsonValue({ maxDepth: 4 }).map((j) => JSON.stringify(j) ?? ''),
          fc
            .dictionary(
              fc.constantFrom(...STATUS_KEYS, 'SourceSystemId', 'MaxSyncDateTime', 'CustomDatabaseValues', 'x'),
              fc.jsonValue({ maxDepth: 2 }),
            )
            .map((o) => JSON.stringify(o)),
        ),
        contentTypes,
        (body, contentType) => {
          expectShapeOrTyped(outcome(body, contentType));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('random markup gives a well-formed DTO or a typed error', () => {
    const name = fc.constantFrom(
      'IntegrationStatusDTO',
      'SourceSystemId',
      'IntegrationName',
      'CustomDatabaseValues',
      'KeyValueOfstringstring',
      'Key',
      'Value',
      'html',
      'a:b',
      'x',
    );
    const text = fc.constantFrom(
      '',
      '7',
      '-1',
      'Orders',
      '2025-12-10T08:22:52.8100855-06:00',
      '&amp;',
      '&bogus;',
      '<![CDATA[x]]>',
      ']]>',
      ' ',
    );
    const leaf = fc.tuple(name, text).map(([n, t]) => `<${n}>${t}</${n}>`);
    const tree = fc.letrec<{ node: string }>((tie) => ({
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        leaf,
        fc
          .tuple(
            name,
            fc.array(tie('node'), { maxLength: 5 }),
            fc.constantFrom('', ' xmlns="urn:x"', ` xmlns:i="${XSI_NS}" i:nil="true"`, ' a="1" a="2"'),
          )
          .map(([n, kids, attrs]) => `<${n}${attrs}>${kids.join('')}</${n}>`),
      ),
    })).node;
    fc.assert(
      fc.property(
        fc.tuple(fc.constantFrom('', '<?xml version="1.0"?>', '<!DOCTYPE x>', '<!-- c -->'), tree),
        contentTypes,
        ([prolog, doc], contentType) => {
          expectShapeOrTyped(outcome(prolog + doc, contentType));
        },
      ),
      { numRuns: RUNS },
    );
  });
});

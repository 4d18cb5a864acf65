/**
 * Meaning-preserving rewrites of the JSON and XML vectors for the parser.fuzz.*.spec.ts files: each gives a body,
 * its Content-Type and the status it must parse to.
 */
import fc from 'fast-check';
import { LosslessNumber, parse as parseLossless } from 'lossless-json';
import type { IntegrationStatus } from '../../../../src/upstream/integration-status';
import { type XmlElement, parseXmlDocument } from '../../../../src/upstream/integration-status.parser';
import {
  JSON_VECTORS,
  XML_VECTORS,
  casings,
  contentTypeFor,
  encode,
  encodings,
  recase,
  whitespaces,
  wsSupply,
} from './fuzz-vectors';

// ---- JSON ----------------------------------------------------------------------------------

export type Json = null | boolean | string | LosslessNumber | Json[] | { [key: string]: Json };

export function parseVector(raw: Buffer): Array<[string, Json]> {
  return Object.entries(parseLossless(raw.toString('utf8')) as Record<string, Json>);
}

/** JSON text with `ws()` between every two tokens. */
export function writeJson(value: Json, ws: () => string): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (value instanceof LosslessNumber) return value.value;
  if (Array.isArray(value)) return `[${ws()}${value.map((v) => `${writeJson(v, ws)}${ws()}`).join(`,${ws()}`)}]`;
  return writeObject(Object.entries(value), ws);
}

export function writeObject(
  entries: Array<[string, Json]> | Array<[string, string]>,
  ws: () => string,
  raw = false,
): string {
  const members = entries.map(
    ([k, v]) => `${ws()}${JSON.stringify(k)}${ws()}:${ws()}${raw ? (v as string) : writeJson(v, ws)}${ws()}`,
  );
  return `{${members.join(',')}${ws()}}`;
}

/** SourceSystemId spellings that keep its integral value. */
export const INT32_FORMS: Array<(n: string) => string> = [
  (n) => n,
  (n) => `${n}.0`,
  (n) => `${n}e0`,
  (n) => `${n}E+00`,
  (n) => `${n}0e-1`,
  (n) => `${n}.000e0`,
  (n) => `${n}00E-2`,
];

export const jsonVariation = fc.record({
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

export type JsonVariation = typeof jsonVariation extends fc.Arbitrary<infer T> ? T : never;

/** A meaning-preserving rewrite of a JSON vector. */
export function buildJson(v: JsonVariation): {
  body: Buffer;
  contentType: string | undefined;
  expected: IntegrationStatus;
} {
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

// ---- XML -----------------------------------------------------------------------------------

export const DTO_NS = 'http://schemas.datacontract.org/2004/07/Gravitate.WCF.DTO.Integration';
export const XSI_NS = 'http://www.w3.org/2001/XMLSchema-instance';
export const ARRAYS_NS = 'http://schemas.microsoft.com/2003/10/Serialization/Arrays';

export interface XmlField {
  name: string;
  nil: boolean;
  text: string;
  /** CustomDatabaseValues items when not nil. */
  items?: Array<{ key: string; value: string | null }>;
}

export function elementsOf(element: XmlElement): XmlElement[] {
  return element.children.filter((c): c is XmlElement => c.kind === 'element');
}
export function textOf(element: XmlElement): string {
  return element.children.map((c) => (c.kind === 'text' ? c.value : '')).join('');
}
export function nilOf(element: XmlElement): boolean {
  return element.attributes.some((a) => a.localName === 'nil' && a.value === 'true');
}

/** The vector as a list of fields, read with the parser's own namespace-aware XML reader. */
export function xmlModel(raw: Buffer): XmlField[] {
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
export function writeText(text: string, style: number, flips: boolean[]): string {
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

export const PREFIXES = ['a', 'b', 'dto', 'q1', 'xsi', 'i', 'd2p1', 'arr', 'n0'];

export const xmlVariation = fc.record({
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

export type XmlVariation = typeof xmlVariation extends fc.Arbitrary<infer T> ? T : never;

/** A meaning-preserving rewrite of an XML vector. */
export function buildXml(v: XmlVariation): {
  body: Buffer;
  contentType: string | undefined;
  expected: IntegrationStatus;
} {
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

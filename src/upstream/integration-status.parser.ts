/**
 * Pure parser for the upstream's answer to `POST api/integration/IntegrationStatus/IntegrationStart`
 * (an IntegrationStatusDTO, see /work/shared/seed/IntegrationStart-api-help.txt and
 * test/fixtures/upstream/README.md). No I/O, no clock, no environment.
 *
 * Exactness rules (from the fixtures README): dates are kept as the upstream's text, .NET longs
 * become exact decimal strings, `maxSyncDateTimeUtc` is the watermark's instant in UTC with 7
 * digits, truncated. Anything that is not clearly a DTO is refused with a typed error rather than
 * guessed at: a wrong guess moves a watermark.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { parse as parseLosslessJson } from 'lossless-json';
import { sameIntegrationName as oneIdentityRule } from '../common/integration-name';
import { parseUpstreamDate, upstreamEpochNanoseconds } from './dotnet-date';
import {
  type AspNetErrorDetails,
  UpstreamBodyUnreadableError,
  UpstreamDateFormatError,
  UpstreamIdentityMismatchError,
  UpstreamNotDtoError,
  quoteForMessage,
} from './errors';
import type { IntegrationKey, IntegrationStatus } from './integration-status';

/** Names folded so far: an upstream sends the same few member names in every answer. */
const FOLDED = new Map<string, string>();
const MAX_FOLDED = 1_024;

/** Options of {@link parseIntegrationStatus}. */
export interface ParseIntegrationStatusOptions {
  /** Time zone for date texts without an offset (.NET `DateTimeKind.Unspecified`), e.g. `America/Chicago`. */
  defaultTimeZone: string;
}

/** XML Schema instance namespace: the `i:` of `i:nil="true"` in DataContractSerializer output. */
export const XSI_NAMESPACE = 'http://www.w3.org/2001/XMLSchema-instance';
const XML_NAMESPACE = 'http://www.w3.org/XML/1998/namespace';

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
const FIELDS = {
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

type FieldKey = keyof typeof FIELDS;
const FIELD_KEYS = Object.keys(FIELDS) as FieldKey[];

/** Lookup by ASCII-lower-cased wire name, so PascalCase, camelCase and `MaxSyncDateMaxPkId` all match. */
const FIELD_BY_FOLDED_NAME = new Map<string, FieldKey>(FIELD_KEYS.map((key) => [asciiLower(FIELDS[key].wire), key]));

// ---------------------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------------------

/**
 * Parses an IntegrationStatusDTO body into an {@link IntegrationStatus}.
 *
 * Format: `application/json`, `text/json`, `*+json` → JSON; `application/xml`, `text/xml`,
 * `*+xml` → XML. Anything else (notably `text/html`, which the help page shows the upstream
 * answering JSON under) is sniffed: markup (`<`) is read as XML only if its root is
 * `IntegrationStatusDTO`, an HTML page is refused; everything else is tried as JSON.
 *
 * Charset: the Content-Type `charset` parameter (utf-8 by default; utf-16, utf-16le, utf-16be,
 * us-ascii) or a byte-order mark. A UTF-8 BOM is stripped. Only used when `body` is a Buffer.
 *
 * Fields: all ten DTO members must be present (possibly null); names match ASCII-case-insensitively;
 * unknown members are ignored. Integers must be integer literals (JSON `SourceSystemId` may be any
 * JSON number with an integral value) within .NET int32 / int64. Dates must satisfy
 * `parseUpstreamDate`; their text is kept unchanged and `maxSyncDateTimeUtc` is derived from
 * `MaxSyncDateTime`. `CustomDatabaseValues` is an object of string → string|null, an array of
 * `{Key, Value}` (JSON), or `KeyValueOfstringstring` items (XML); null values are kept as null.
 *
 * @param body raw response body (bytes, or text already decoded).
 * @param contentType the response's Content-Type header, if any.
 * @param options `defaultTimeZone` for date texts without an offset.
 * @returns the DTO in Tidemark's shape; see `test/fixtures/upstream/expected/*.json`.
 * @throws UpstreamBodyUnreadableError (`body_unreadable`) empty, truncated or malformed
 *   JSON/XML, an HTML page, a DOCTYPE/ENTITY declaration, an unsupported or violated charset.
 * @throws UpstreamNotDtoError (`not_a_dto`) JSON null/array/scalar, wrong XML root, a missing,
 *   duplicated or mistyped field (the message names the field and the expected type), an integer
 *   out of range or not an integer literal, bad date text.
 * @throws RangeError when `options.defaultTimeZone` is not a known time zone (configuration error).
 */
export function parseIntegrationStatus(
  body: Buffer | string,
  contentType: string | undefined,
  options: ParseIntegrationStatusOptions,
): IntegrationStatus {
  const { mediaType, charset } = parseContentType(contentType);
  const text = decodeBody(body, charset);
  const start = firstNonXmlWhitespace(text);
  if (start === -1) {
    throw new UpstreamBodyUnreadableError(
      text.length === 0 ? 'upstream body is empty' : 'upstream body is only whitespace',
    );
  }
  const declared = classifyMediaType(mediaType);
  const shownType = mediaType ?? 'no Content-Type';

  if (text.charCodeAt(start) === 0x3c /* < */) {
    const peek = peekMarkupRoot(text, start);
    if (peek.kind === 'html') {
      throw new UpstreamBodyUnreadableError(
        `upstream body (${shownType}) is an HTML page (e.g. a login or error page), not an IntegrationStatusDTO`,
      );
    }
    if (declared === 'sniff') {
      if (peek.kind === 'doctype' || (peek.kind === 'element' && localNameOf(peek.name) === 'IntegrationStatusDTO')) {
        // A DOCTYPE goes on to parseXmlDocument, which refuses it with a precise message.
        return dtoFromXml(parseXmlDocument(text), options);
      }
      const what = peek.kind === 'element' ? `markup with root <${safeName(peek.name)}>` : 'markup';
      throw new UpstreamBodyUnreadableError(
        `upstream body (${shownType}) is ${what}, not an IntegrationStatusDTO: an HTML page or other error page`,
      );
    }
  }

  if (declared === 'xml') return dtoFromXml(parseXmlDocument(text), options);
  return dtoFromJson(parseJsonDocument(text, shownType, declared === 'sniff'), options);
}

/**
 * Checks that a DTO is about the integration that was asked for.
 *
 * `SourceSystemId` must be equal; `IntegrationName` is compared like SQL Server's default
 * collation (SQL_Latin1_General_CP1_CI_AS), where the upstream looks the row up: case-insensitive,
 * accent-sensitive, trailing spaces ignored; the rule of src/common/integration-name.ts, which the
 * configuration's duplicate check uses too.
 *
 * @throws UpstreamIdentityMismatchError when they differ, or when the DTO's SourceSystemId or
 *   IntegrationName is null.
 */
export function assertSameIntegration(status: IntegrationStatus, key: IntegrationKey): void {
  const sameId = status.sourceSystemId !== null && status.sourceSystemId === key.sourceSystemId;
  const sameName = status.integrationName !== null && sameIntegrationName(status.integrationName, key.integrationName);
  if (!sameId || !sameName) {
    throw new UpstreamIdentityMismatchError(
      { sourceSystemId: key.sourceSystemId, integrationName: key.integrationName },
      { sourceSystemId: status.sourceSystemId, integrationName: status.integrationName },
    );
  }
}

/**
 * `true` when two IntegrationNames are the same for SQL Server's default collation: case- and
 * width-insensitive, accent-sensitive, trailing spaces ignored (ANSI padding).
 */
export function sameIntegrationName(a: string, b: string): boolean {
  return oneIdentityRule(a, b);
}

/**
 * Reads an ASP.NET Web API error body (`HttpError`: JSON `{"Message":…,"ExceptionMessage":…,
 * "ExceptionType":…}` or XML `<Error><Message>…</Message>…</Error>`).
 *
 * @returns the members it found (strings only, not yet shortened), or null when the body is not
 *   such an error. Never throws.
 */
export function parseAspNetError(body: Buffer | string, contentType: string | undefined): AspNetErrorDetails | null {
  try {
    const text = decodeBody(body, parseContentType(contentType).charset);
    const start = firstNonXmlWhitespace(text);
    if (start === -1) return null;
    const wanted: Record<string, keyof AspNetErrorDetails> = {
      message: 'message',
      messagedetail: 'messageDetail',
      exceptionmessage: 'exceptionMessage',
      exceptiontype: 'exceptionType',
    };
    const found: AspNetErrorDetails = {};
    if (text.charCodeAt(start) === 0x7b /* { */) {
      const root = parseLosslessJson(text, null, { parseNumber: (t: string) => new JsonNumber(t) });
      if (!isPlainJsonObject(root)) return null;
      for (const [name, value] of Object.entries(root)) {
        const target = wanted[asciiLower(name)];
        if (target !== undefined && typeof value === 'string' && found[target] === undefined) found[target] = value;
      }
    } else if (text.charCodeAt(start) === 0x3c /* < */) {
      const root = parseXmlDocument(text);
      if (root.localName !== 'Error') return null;
      for (const child of childElements(root)) {
        const target = wanted[asciiLower(child.localName)];
        if (target !== undefined && childElements(child).length === 0 && found[target] === undefined) {
          found[target] = textContent(child);
        }
      }
    } else {
      return null;
    }
    return Object.keys(found).length > 0 ? found : null;
  } catch {
    return null;
  }
}

/**
 * A short, single-line, control-character-free excerpt of a body for error messages: decoded
 * leniently as UTF-8, C0/C1 controls and line/paragraph separators replaced by spaces,
 * whitespace runs collapsed, cut to `max` characters (code points) with `…` appended when cut.
 */
export function bodyExcerpt(body: Buffer | string, max = 200): string {
  const raw =
    typeof body === 'string'
      ? body.slice(0, max * 4)
      : new TextDecoder('utf-8', { fatal: false }).decode(body.subarray(0, max * 4));
  const clean = raw
    .replace(/^\uFEFF/, '')
    .replace(/[\u0000-\u001F\u007F-\u009F\u2028\u2029\u200E\u200F\u202A-\u202E\u2066-\u2069]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const chars = Array.from(clean);
  return chars.length > max ? `${chars.slice(0, max).join('')}…` : clean;
}

// ---------------------------------------------------------------------------------------------
// Content-Type and charset
// ---------------------------------------------------------------------------------------------

/** Media type (lower-cased `type/subtype`) and charset (lower-cased) of a Content-Type header; a shared, frozen object. */
export function parseContentType(
  header: string | undefined | null,
): Readonly<{ mediaType: string | null; charset: string | null }> {
  if (typeof header !== 'string') return NO_CONTENT_TYPE;
  // An upstream sends the same header on every answer: the last one's reading is kept.
  if (header === lastContentType.header) return lastContentType.parsed;
  const parsed = Object.freeze(readContentType(header));
  lastContentType = { header, parsed };
  return parsed;
}

const NO_CONTENT_TYPE = Object.freeze({ mediaType: null, charset: null });
const MEDIA_TYPE = /^[!#$%&'*+.^_`|~0-9a-z-]+\/[!#$%&'*+.^_`|~0-9a-z-]+$/;
let lastContentType: { header: string | null; parsed: Readonly<{ mediaType: string | null; charset: string | null }> } =
  {
    header: null,
    parsed: NO_CONTENT_TYPE,
  };

function readContentType(header: string): { mediaType: string | null; charset: string | null } {
  const [typePart = '', ...params] = header.split(';');
  const type = typePart.trim().toLowerCase();
  const mediaType = MEDIA_TYPE.test(type) ? type : null;
  let charset: string | null = null;
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq === -1) continue;
    if (param.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    let value = param.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    charset = value.toLowerCase();
  }
  return { mediaType, charset };
}

function classifyMediaType(mediaType: string | null): 'json' | 'xml' | 'sniff' {
  if (mediaType === null) return 'sniff';
  if (mediaType === 'application/json' || mediaType === 'text/json' || mediaType.endsWith('+json')) return 'json';
  if (mediaType === 'application/xml' || mediaType === 'text/xml' || mediaType.endsWith('+xml')) return 'xml';
  return 'sniff';
}

type Encoding = 'utf-8' | 'utf-16le' | 'utf-16be' | 'us-ascii';

const CHARSET_LABELS: Record<string, Encoding | 'utf-16'> = {
  'utf-8': 'utf-8',
  utf8: 'utf-8',
  'utf-16': 'utf-16',
  utf16: 'utf-16',
  'utf-16le': 'utf-16le',
  'utf-16be': 'utf-16be',
  'us-ascii': 'us-ascii',
  ascii: 'us-ascii',
};

/**
 * Bytes → text. A BOM (UTF-8, UTF-16LE, UTF-16BE) decides when no charset is declared and must
 * agree with a declared one. `utf-16` without a BOM is read as little-endian, as the WHATWG
 * Encoding Standard and .NET's `Encoding.Unicode` do. Decoding is fatal: invalid bytes are an
 * error, never U+FFFD, because a replaced character in IntegrationName or a dictionary value would
 * be silently wrong.
 */
function decodeBody(body: Buffer | string, charset: string | null): string {
  if (typeof body === 'string') return body.charCodeAt(0) === 0xfeff ? body.slice(1) : body;
  if (!(body instanceof Uint8Array)) {
    throw new UpstreamBodyUnreadableError('upstream body is neither a Buffer nor a string');
  }
  let declared: Encoding | 'utf-16' | null = null;
  if (charset !== null) {
    const known = CHARSET_LABELS[charset];
    if (known === undefined) {
      throw new UpstreamBodyUnreadableError(
        `upstream body declares unsupported charset ${quoteForMessage(charset, 40)} (supported: utf-8, utf-16, utf-16le, utf-16be, us-ascii)`,
      );
    }
    declared = known;
  }
  let bom: Encoding | null = null;
  let bomLength = 0;
  if (body.length >= 3 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) {
    bom = 'utf-8';
    bomLength = 3;
  } else if (body.length >= 2 && body[0] === 0xff && body[1] === 0xfe) {
    bom = 'utf-16le';
    bomLength = 2;
  } else if (body.length >= 2 && body[0] === 0xfe && body[1] === 0xff) {
    bom = 'utf-16be';
    bomLength = 2;
  }

  let encoding: Encoding;
  if (bom === null) {
    encoding = declared === null ? 'utf-8' : declared === 'utf-16' ? 'utf-16le' : declared;
  } else {
    const agrees = declared === null || bom === declared || (declared === 'utf-16' && bom !== 'utf-8');
    if (!agrees) {
      throw new UpstreamBodyUnreadableError(
        `upstream body declares charset ${declared} but starts with a ${bom} byte-order mark`,
      );
    }
    encoding = bom;
  }

  const bytes = body.subarray(bomLength);
  if (encoding === 'us-ascii') {
    const bad = bytes.findIndex((b) => b > 0x7f);
    if (bad !== -1) {
      throw new UpstreamBodyUnreadableError(
        `upstream body declares charset us-ascii but byte ${bad + bomLength} is 0x${bytes[bad].toString(16)}`,
      );
    }
  }
  try {
    // ignoreBOM: the BOM was removed above; a second one would be content, not a marker.
    const text = new TextDecoder(encoding === 'us-ascii' ? 'utf-8' : encoding, { fatal: true, ignoreBOM: true }).decode(
      bytes,
    );
    return text;
  } catch {
    throw new UpstreamBodyUnreadableError(
      `upstream body is not valid ${encoding} (invalid or truncated byte sequence)`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------------

/** A JSON number, kept as its literal text so nothing is lost to float64. */
class JsonNumber {
  constructor(readonly text: string) {}
}

class DuplicateJsonKey extends Error {
  constructor(readonly key: string) {
    super('duplicate key');
  }
}

function parseJsonDocument(text: string, shownType: string, sniffed: boolean): unknown {
  try {
    return parseLosslessJson(text, null, {
      parseNumber: (literal: string) => new JsonNumber(literal),
      // lossless-json calls this only when the values differ; an exact repeat of a member
      // with an identical value is harmless and let through.
      onDuplicateKey: ({ key }) => {
        throw new DuplicateJsonKey(key);
      },
    });
  } catch (error) {
    if (error instanceof DuplicateJsonKey) {
      throw new UpstreamNotDtoError(
        `upstream JSON has the member ${quoteForMessage(error.key, 60)} twice in one object, with different values`,
      );
    }
    if (error instanceof RangeError) {
      throw new UpstreamBodyUnreadableError(`upstream body (${shownType}) is JSON nested too deeply to read`);
    }
    const reason = error instanceof Error ? error.message : String(error);
    const what = sniffed ? 'neither an IntegrationStatusDTO in XML nor valid JSON' : 'not valid JSON';
    throw new UpstreamBodyUnreadableError(`upstream body (${shownType}) is ${what} (${reason}); truncated or not JSON`);
  }
}

function isPlainJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof JsonNumber);
}

function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (value instanceof JsonNumber)
    return `the number ${value.text.length > 40 ? `${value.text.slice(0, 40)}…` : value.text}`;
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'boolean') return `the boolean ${value}`;
  if (typeof value === 'object') return 'an object';
  return typeof value;
}

function dtoFromJson(root: unknown, options: ParseIntegrationStatusOptions): IntegrationStatus {
  if (!isPlainJsonObject(root)) {
    throw new UpstreamNotDtoError(`upstream body is JSON ${describeJson(root)}, not an IntegrationStatusDTO object`);
  }
  const members = new Map<FieldKey, { name: string; value: unknown }>();
  for (const name of Object.keys(root)) {
    const key = FIELD_BY_FOLDED_NAME.get(asciiLower(name));
    if (key === undefined) continue; // unknown members are ignored
    const previous = members.get(key);
    if (previous !== undefined) {
      throw new UpstreamNotDtoError(
        `upstream JSON has both ${quoteForMessage(previous.name, 40)} and ${quoteForMessage(name, 40)}, which are the same field ${FIELDS[key].wire}`,
        { field: FIELDS[key].wire },
      );
    }
    members.set(key, { name, value: root[name] });
  }
  requireAll(new Set(members.keys()), 'JSON member');

  const get = (key: FieldKey): unknown => members.get(key)!.value;
  const str = (key: FieldKey): string | null => {
    const value = get(key);
    if (value === null || typeof value === 'string') return value;
    throw wrongType(key, 'a string or null', describeJson(value));
  };
  const int64 = (key: FieldKey): string | null => {
    const value = get(key);
    if (value === null) return null;
    if (value instanceof JsonNumber) return int64FromLiteral(value.text, key);
    throw wrongType(key, 'an integer number (.NET long) or null', describeJson(value));
  };
  const date = (key: FieldKey): string | null => {
    const value = get(key);
    if (value === null) return null;
    if (typeof value === 'string') return value;
    throw wrongType(key, 'a date string or null', describeJson(value));
  };

  const sourceSystemIdValue = get('sourceSystemId');
  let sourceSystemId: number | null;
  if (sourceSystemIdValue === null) sourceSystemId = null;
  else if (sourceSystemIdValue instanceof JsonNumber) sourceSystemId = int32FromJsonNumber(sourceSystemIdValue.text);
  else throw wrongType('sourceSystemId', 'an integer number (.NET int) or null', describeJson(sourceSystemIdValue));

  return assemble(
    {
      integrationName: str('integrationName'),
      sourceSystemId,
      lastRunStartDateTime: date('lastRunStartDateTime'),
      lastRunEndDateTime: date('lastRunEndDateTime'),
      processStatusMeaning: str('processStatusMeaning'),
      maxSyncDateTime: date('maxSyncDateTime'),
      maxSyncDateMaxPkId: int64('maxSyncDateMaxPkId'),
      sourceId: int64('sourceId'),
      sourceIdString: str('sourceIdString'),
      customDatabaseValues: jsonDictionary(get('customDatabaseValues')),
    },
    options,
  );
}

/**
 * `CustomDatabaseValues` in JSON: `{"k":"v"}` (Json.NET, the help page) or `[{"Key":"k","Value":"v"}]`
 * (DataContractJsonSerializer's dictionary form).
 */
function jsonDictionary(value: unknown): Record<string, string | null> | null {
  const field = FIELDS.customDatabaseValues.wire;
  if (value === null) return null;
  const result: Record<string, string | null> = {};
  if (Array.isArray(value)) {
    const seen = new Set<string>();
    value.forEach((entry, index) => {
      if (!isPlainJsonObject(entry)) {
        throw new UpstreamNotDtoError(`${field}[${index}] must be an object {Key, Value}, got ${describeJson(entry)}`, {
          field,
        });
      }
      const k: { present: boolean; value: unknown } = { present: false, value: undefined };
      const v: { present: boolean; value: unknown } = { present: false, value: undefined };
      for (const name of Object.keys(entry)) {
        const folded = asciiLower(name);
        const slot = folded === 'key' ? k : folded === 'value' ? v : null;
        if (slot === null) {
          throw new UpstreamNotDtoError(
            `${field}[${index}] has unexpected member ${quoteForMessage(name, 40)}; expected only Key and Value`,
            { field },
          );
        }
        if (slot.present) {
          throw new UpstreamNotDtoError(`${field}[${index}] has ${folded === 'key' ? 'Key' : 'Value'} twice`, {
            field,
          });
        }
        slot.present = true;
        slot.value = entry[name];
      }
      if (!k.present || !v.present) {
        throw new UpstreamNotDtoError(`${field}[${index}] must have both Key and Value`, { field });
      }
      if (typeof k.value !== 'string') {
        throw new UpstreamNotDtoError(`${field}[${index}].Key must be a string, got ${describeJson(k.value)}`, {
          field,
        });
      }
      if (v.value !== null && typeof v.value !== 'string') {
        throw new UpstreamNotDtoError(
          `${field}[${index}].Value must be a string or null, got ${describeJson(v.value)}`,
          { field },
        );
      }
      if (seen.has(k.value)) {
        throw new UpstreamNotDtoError(`${field} has the key ${quoteForMessage(k.value, 60)} twice`, { field });
      }
      seen.add(k.value);
      setOwn(result, k.value, v.value);
    });
    return result;
  }
  if (!isPlainJsonObject(value)) {
    throw wrongType(
      'customDatabaseValues',
      'an object of string values, an array of {Key, Value}, or null',
      describeJson(value),
    );
  }
  for (const name of Object.keys(value)) {
    const entry = value[name];
    if (entry !== null && typeof entry !== 'string') {
      throw new UpstreamNotDtoError(
        `${field}[${quoteForMessage(name, 60)}] must be a string or null, got ${describeJson(entry)}`,
        { field },
      );
    }
    setOwn(result, name, entry);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// XML
// ---------------------------------------------------------------------------------------------

/** One element of a parsed XML document, with namespaces resolved. */
export interface XmlElement {
  readonly kind: 'element';
  /** Qualified name as written, e.g. `d2p1:Key`. */
  readonly name: string;
  readonly localName: string;
  /** Namespace URI the prefix (or the default namespace) was bound to; null for none. */
  readonly namespaceUri: string | null;
  /** Attributes other than namespace declarations, values decoded and normalized. */
  readonly attributes: readonly XmlAttribute[];
  /** Namespace declarations made on this element: prefix ('' for the default) → URI. */
  readonly namespaceDeclarations: Readonly<Record<string, string>>;
  /** Child elements and text (character data and CDATA, references decoded), in document order. */
  readonly children: ReadonlyArray<XmlElement | XmlText>;
}

export interface XmlText {
  readonly kind: 'text';
  readonly value: string;
}

export interface XmlAttribute {
  readonly name: string;
  readonly localName: string;
  readonly namespaceUri: string | null;
  readonly value: string;
}

const xmlParser = new XMLParser({
  // Document order of text and CDATA pieces is needed to decode them correctly (only text gets
  // references decoded); element order itself is never relied on.
  preserveOrder: true,
  ignoreAttributes: false, // else i:nil="true" disappears
  attributeNamePrefix: '',
  // Namespaces are resolved here from the xmlns declarations instead, so that `nil` is known to be
  // xsi:nil whatever the prefix, and element names are matched by local name.
  removeNSPrefix: false,
  parseTagValue: false, // else "00123" becomes 123
  parseAttributeValue: false,
  trimValues: false, // IntegrationName " Orders " must stay exactly that
  // No entity processing at all in the library: with it on, v5.12 decodes the 5 predefined
  // entities but leaves numeric references (&#xD;) undecoded and would decode CDATA content;
  // decodeReferences() below does exactly XML 1.0's predefined set plus character references.
  processEntities: false,
  htmlEntities: false,
  cdataPropName: '#cdata',
  commentPropName: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  maxNestedTags: 64,
});

/**
 * Parses an XML document into a namespace-resolved element tree and returns its root.
 *
 * Refuses, before parsing, any `<!DOCTYPE` or `<!ENTITY` (case-insensitive plain scan, constant
 * memory): no DTD means no entity can expand beyond the five predefined ones. Also refuses
 * characters XML 1.0 forbids, documents that are not well-formed or namespace-well-formed, and
 * more than one root element. Line endings are normalized (CR LF, CR → LF) as XML requires;
 * `&#xD;` stays a CR.
 *
 * @throws UpstreamBodyUnreadableError for all of the above.
 */
export function parseXmlDocument(text: string): XmlElement {
  refuseDtd(text);
  const forbidden = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/.exec(text);
  if (forbidden !== null) {
    throw new UpstreamBodyUnreadableError(
      `upstream XML contains the character U+${forbidden[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}, which XML 1.0 forbids (offset ${forbidden.index})`,
    );
  }
  const normalized = text.replace(/\r\n?/g, '\n');
  const validation = XMLValidator.validate(normalized, { allowBooleanAttributes: false });
  if (validation !== true) {
    throw new UpstreamBodyUnreadableError(
      `upstream body is not well-formed XML: ${validation.err.msg} (line ${validation.err.line}, column ${validation.err.col}); truncated or not XML`,
    );
  }
  let nodes: unknown;
  try {
    nodes = xmlParser.parse(normalized);
  } catch (error) {
    throw new UpstreamBodyUnreadableError(
      `upstream body is not readable XML: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (!Array.isArray(nodes)) throw new UpstreamBodyUnreadableError('upstream XML has no root element');
  const roots: XmlElement[] = [];
  const scope = new Map<string, string | null>([['xml', XML_NAMESPACE]]);
  for (const node of nodes) {
    const element = convertXmlNode(node, scope);
    if (element === null) continue;
    if (element.kind === 'text') {
      if (/[^ \t\n]/.test(element.value)) {
        throw new UpstreamBodyUnreadableError('upstream XML has text outside its root element');
      }
      continue;
    }
    roots.push(element);
  }
  if (roots.length !== 1) {
    throw new UpstreamBodyUnreadableError(
      roots.length === 0 ? 'upstream XML has no root element' : 'upstream XML has more than one root element',
    );
  }
  return roots[0];
}

function refuseDtd(text: string): void {
  let at = text.indexOf('<!');
  while (at !== -1) {
    const keyword = text.slice(at + 2, at + 9).toLowerCase();
    if (keyword === 'doctype' || keyword.startsWith('entity')) {
      throw new UpstreamBodyUnreadableError(
        `upstream XML contains a ${keyword === 'doctype' ? 'DOCTYPE' : 'ENTITY'} declaration at offset ${at}; ` +
          'DTDs are refused (entity expansion) and an IntegrationStatusDTO never has one',
      );
    }
    at = text.indexOf('<!', at + 2);
  }
}

type XmlScope = Map<string, string | null>;

function convertXmlNode(node: unknown, parentScope: XmlScope): XmlElement | XmlText | null {
  if (typeof node !== 'object' || node === null) return null;
  const record = node as Record<string, unknown>;
  if ('#text' in record) return { kind: 'text', value: decodeReferences(String(record['#text']), 'text') };
  if ('#cdata' in record) {
    const parts = record['#cdata'] as Array<Record<string, unknown>>;
    return { kind: 'text', value: parts.map((p) => String(p['#text'] ?? '')).join('') };
  }
  const name = Object.keys(record).find((k) => k !== ':@');
  if (name === undefined) return null;
  const rawAttributes = (record[':@'] ?? {}) as Record<string, unknown>;

  const declarations: Record<string, string> = {};
  let scope = parentScope;
  const plainAttributes: Array<{ name: string; value: string }> = [];
  for (const [attrName, rawValue] of Object.entries(rawAttributes)) {
    const value = decodeAttributeValue(String(rawValue), attrName);
    if (attrName === 'xmlns' || attrName.startsWith('xmlns:')) {
      const prefix = attrName === 'xmlns' ? '' : attrName.slice(6);
      if (prefix !== '' && value === '') {
        throw new UpstreamBodyUnreadableError(
          `upstream XML undeclares the prefix ${safeName(prefix)}, which XML 1.0 namespaces forbid`,
        );
      }
      if (scope === parentScope) scope = new Map(parentScope);
      scope.set(prefix, value === '' ? null : value);
      declarations[prefix] = value;
    } else {
      plainAttributes.push({ name: attrName, value });
    }
  }

  const [prefix, localName] = splitQName(name);
  const namespaceUri = resolvePrefix(scope, prefix, name, true);
  const attributes = plainAttributes.map((attribute): XmlAttribute => {
    const [attrPrefix, attrLocal] = splitQName(attribute.name);
    return {
      name: attribute.name,
      localName: attrLocal,
      namespaceUri: attrPrefix === null ? null : resolvePrefix(scope, attrPrefix, attribute.name, false),
      value: attribute.value,
    };
  });
  const seenAttributes = new Set<string>();
  for (const a of attributes) {
    const id = `${a.namespaceUri ?? ''}\u0000${a.localName}`;
    if (seenAttributes.has(id)) {
      throw new UpstreamBodyUnreadableError(
        `upstream XML element <${safeName(name)}> has the attribute ${safeName(a.localName)} twice`,
      );
    }
    seenAttributes.add(id);
  }

  const children: Array<XmlElement | XmlText> = [];
  const content = record[name];
  if (Array.isArray(content)) {
    for (const child of content) {
      const converted = convertXmlNode(child, scope);
      if (converted === null) continue;
      const last = children[children.length - 1];
      if (converted.kind === 'text' && last !== undefined && last.kind === 'text') {
        children[children.length - 1] = { kind: 'text', value: last.value + converted.value };
      } else {
        children.push(converted);
      }
    }
  }
  return { kind: 'element', name, localName, namespaceUri, attributes, namespaceDeclarations: declarations, children };
}

function splitQName(name: string): [prefix: string | null, localName: string] {
  const colon = name.indexOf(':');
  if (colon === -1) return [null, name];
  const prefix = name.slice(0, colon);
  const local = name.slice(colon + 1);
  if (prefix === '' || local === '' || local.includes(':')) {
    throw new UpstreamBodyUnreadableError(`upstream XML has the malformed qualified name ${safeName(name)}`);
  }
  return [prefix, local];
}

function resolvePrefix(scope: XmlScope, prefix: string | null, name: string, isElement: boolean): string | null {
  if (prefix === null) return isElement ? (scope.get('') ?? null) : null;
  if (prefix === 'xmlns') {
    throw new UpstreamBodyUnreadableError(`upstream XML uses the reserved prefix xmlns in ${safeName(name)}`);
  }
  const uri = scope.get(prefix);
  if (uri === undefined || uri === null) {
    throw new UpstreamBodyUnreadableError(
      `upstream XML uses the undeclared namespace prefix ${safeName(prefix)} in ${safeName(name)}`,
    );
  }
  return uri;
}

const PREDEFINED_ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' };
const REFERENCE = /&(?:#x([0-9A-Fa-f]+)|#([0-9]+)|([A-Za-z_:][A-Za-z0-9._:-]*));/y;

/**
 * Decodes the five predefined entity references and character references. Any other entity is
 * undeclared (there is no DTD), which makes the document not well-formed. Character references
 * may name any code point 1..10FFFF: .NET's XmlWriter with CheckCharacters=false (ASP.NET Web
 * API's XmlMediaTypeFormatter) writes control characters as `&#x1;`, and a .NET string may hold
 * them; only NUL cannot be in a .NET-compatible XML string.
 */
function decodeReferences(raw: string, where: string): string {
  if (where === 'text' && raw.includes(']]>')) {
    throw new UpstreamBodyUnreadableError('upstream XML has "]]>" in character data, which XML 1.0 forbids');
  }
  if (!raw.includes('&')) return raw;
  let out = '';
  let from = 0;
  for (let at = raw.indexOf('&'); at !== -1; at = raw.indexOf('&', from)) {
    out += raw.slice(from, at);
    REFERENCE.lastIndex = at;
    const m = REFERENCE.exec(raw);
    if (m === null) {
      throw new UpstreamBodyUnreadableError(`upstream XML has a bare "&" or an unterminated reference in ${where}`);
    }
    const [, hex, dec, entity] = m;
    if (entity !== undefined) {
      const replacement = PREDEFINED_ENTITIES[entity];
      if (replacement === undefined) {
        throw new UpstreamBodyUnreadableError(
          `upstream XML uses the undeclared entity &${safeName(entity)}; in ${where} (only &lt; &gt; &amp; &apos; &quot; exist without a DTD)`,
        );
      }
      out += replacement;
    } else {
      const digits = hex ?? dec;
      const code = digits.length > 8 ? Number.POSITIVE_INFINITY : Number.parseInt(digits, hex !== undefined ? 16 : 10);
      if (!(code >= 1 && code <= 0x10ffff)) {
        throw new UpstreamBodyUnreadableError(
          `upstream XML has the character reference ${safeName(m[0])} in ${where}, which names no allowed character`,
        );
      }
      out += String.fromCodePoint(code);
    }
    from = REFERENCE.lastIndex;
  }
  return out + raw.slice(from);
}

function decodeAttributeValue(raw: string, name: string): string {
  if (raw.includes('<')) {
    throw new UpstreamBodyUnreadableError(
      `upstream XML attribute ${safeName(name)} contains "<", which XML 1.0 forbids`,
    );
  }
  // Attribute-value normalization (XML 1.0 §3.3.3): literal whitespace becomes a space, but
  // whitespace written as a character reference is kept.
  return decodeReferences(raw.replace(/[\t\n]/g, ' '), `attribute ${safeName(name)}`);
}

function childElements(element: XmlElement): XmlElement[] {
  return element.children.filter((c): c is XmlElement => c.kind === 'element');
}

function textContent(element: XmlElement): string {
  let text = '';
  for (const child of element.children) if (child.kind === 'text') text += child.value;
  return text;
}

function hasNonWhitespaceText(element: XmlElement): boolean {
  return element.children.some((c) => c.kind === 'text' && /[^ \t\n\r]/.test(c.value));
}

/**
 * `true` for `xsi:nil="true"` (or `"1"`), whatever the prefix. A `nil` attribute in another
 * namespace is refused rather than ignored: read as "not nil" it would turn a null string into "".
 */
function isNil(element: XmlElement, where: string): boolean {
  let nil = false;
  for (const attribute of element.attributes) {
    if (attribute.localName !== 'nil') continue;
    if (attribute.namespaceUri !== XSI_NAMESPACE) {
      throw new UpstreamNotDtoError(
        `${where} has a nil attribute ${safeName(attribute.name)} that is not in the XML Schema instance namespace ${XSI_NAMESPACE}`,
      );
    }
    const value = attribute.value.trim();
    if (value === 'true' || value === '1') nil = true;
    else if (value === 'false' || value === '0') nil = false;
    else
      throw new UpstreamNotDtoError(
        `${where} has xsi:nil=${quoteForMessage(attribute.value, 20)}, expected true or false`,
      );
  }
  if (nil && element.children.length > 0) {
    throw new UpstreamNotDtoError(`${where} is xsi:nil="true" but has content`);
  }
  return nil;
}

function dtoFromXml(root: XmlElement, options: ParseIntegrationStatusOptions): IntegrationStatus {
  if (root.localName.toLowerCase() === 'html') {
    throw new UpstreamBodyUnreadableError('upstream body is an HTML page (root <html>), not an IntegrationStatusDTO');
  }
  if (root.localName !== 'IntegrationStatusDTO') {
    throw new UpstreamNotDtoError(
      `upstream XML root element is <${safeName(root.name)}>, expected IntegrationStatusDTO`,
    );
  }
  if (isNil(root, '<IntegrationStatusDTO>')) {
    throw new UpstreamNotDtoError('upstream XML IntegrationStatusDTO is xsi:nil: no DTO');
  }
  if (hasNonWhitespaceText(root)) {
    throw new UpstreamNotDtoError('upstream XML IntegrationStatusDTO has text directly inside it');
  }
  const elements = new Map<FieldKey, XmlElement>();
  for (const child of childElements(root)) {
    const key = FIELD_BY_FOLDED_NAME.get(asciiLower(child.localName));
    if (key === undefined) continue; // unknown elements are ignored
    if (elements.has(key)) {
      throw new UpstreamNotDtoError(`upstream XML has the element ${FIELDS[key].wire} more than once`, {
        field: FIELDS[key].wire,
      });
    }
    elements.set(key, child);
  }
  requireAll(new Set(elements.keys()), 'XML element');

  /** The text of a simple element, or null when xsi:nil. */
  const simple = (key: FieldKey): string | null => {
    const element = elements.get(key)!;
    const wire = FIELDS[key].wire;
    if (isNil(element, wire)) return null;
    const child = childElements(element)[0];
    if (child !== undefined) {
      throw new UpstreamNotDtoError(`${wire} must contain only text, found the element <${safeName(child.name)}>`, {
        field: wire,
      });
    }
    return textContent(element);
  };
  const nonEmpty = (key: FieldKey, expected: string): string | null => {
    const text = simple(key);
    if (text === '') throw wrongType(key, expected, 'an empty element');
    return text;
  };
  const sourceSystemIdText = nonEmpty('sourceSystemId', 'an integer (.NET int) or xsi:nil');
  const pk = nonEmpty('maxSyncDateMaxPkId', 'an integer (.NET long) or xsi:nil');
  const sourceId = nonEmpty('sourceId', 'an integer (.NET long) or xsi:nil');

  return assemble(
    {
      integrationName: simple('integrationName'),
      sourceSystemId: sourceSystemIdText === null ? null : int32FromLiteral(sourceSystemIdText),
      lastRunStartDateTime: nonEmpty('lastRunStartDateTime', 'a date or xsi:nil'),
      lastRunEndDateTime: nonEmpty('lastRunEndDateTime', 'a date or xsi:nil'),
      processStatusMeaning: simple('processStatusMeaning'),
      maxSyncDateTime: nonEmpty('maxSyncDateTime', 'a date or xsi:nil'),
      maxSyncDateMaxPkId: pk === null ? null : int64FromLiteral(pk, 'maxSyncDateMaxPkId'),
      sourceId: sourceId === null ? null : int64FromLiteral(sourceId, 'sourceId'),
      sourceIdString: simple('sourceIdString'),
      customDatabaseValues: xmlDictionary(elements.get('customDatabaseValues')!),
    },
    options,
  );
}

/**
 * `CustomDatabaseValues` as DataContractSerializer writes a `Dictionary<string,string>`:
 * `KeyValueOfstringstring` items (namespace .../2003/10/Serialization/Arrays, any prefix), each
 * with one `Key` and one `Value`, in any order.
 */
function xmlDictionary(element: XmlElement): Record<string, string | null> | null {
  const field = FIELDS.customDatabaseValues.wire;
  if (isNil(element, field)) return null;
  if (hasNonWhitespaceText(element)) {
    throw new UpstreamNotDtoError(`${field} has text directly inside it; expected KeyValueOfstringstring elements`, {
      field,
    });
  }
  const result: Record<string, string | null> = {};
  const seen = new Set<string>();
  childElements(element).forEach((item, index) => {
    const where = `${field}/KeyValueOfstringstring[${index + 1}]`;
    if (item.localName !== 'KeyValueOfstringstring') {
      throw new UpstreamNotDtoError(
        `${field} contains <${safeName(item.name)}>; expected KeyValueOfstringstring elements`,
        { field },
      );
    }
    if (isNil(item, where) || hasNonWhitespaceText(item)) {
      throw new UpstreamNotDtoError(`${where} must contain Key and Value elements`, { field });
    }
    let keyElement: XmlElement | undefined;
    let valueElement: XmlElement | undefined;
    for (const part of childElements(item)) {
      const folded = asciiLower(part.localName);
      if (folded === 'key' && keyElement === undefined) keyElement = part;
      else if (folded === 'value' && valueElement === undefined) valueElement = part;
      else
        throw new UpstreamNotDtoError(`${where} has an unexpected or repeated element <${safeName(part.name)}>`, {
          field,
        });
    }
    if (keyElement === undefined || valueElement === undefined) {
      throw new UpstreamNotDtoError(`${where} must have both Key and Value`, { field });
    }
    if (isNil(keyElement, `${where}/Key`)) {
      throw new UpstreamNotDtoError(`${where}/Key is xsi:nil; a .NET dictionary key cannot be null`, { field });
    }
    for (const part of [keyElement, valueElement]) {
      if (childElements(part).length > 0) {
        throw new UpstreamNotDtoError(`${where}/${safeName(part.localName)} must contain only text`, { field });
      }
    }
    const key = textContent(keyElement);
    const value = isNil(valueElement, `${where}/Value`) ? null : textContent(valueElement);
    if (seen.has(key)) {
      throw new UpstreamNotDtoError(`${field} has the key ${quoteForMessage(key, 60)} twice`, { field });
    }
    seen.add(key);
    setOwn(result, key, value);
  });
  return result;
}

// ---------------------------------------------------------------------------------------------
// Shared field rules
// ---------------------------------------------------------------------------------------------

type RawDto = Omit<IntegrationStatus, 'maxSyncDateTimeUtc'>;

/** Validates the three dates and derives `maxSyncDateTimeUtc`; field order as in `expected/*.json`. */
function assemble(raw: RawDto, options: ParseIntegrationStatusOptions): IntegrationStatus {
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

function requireAll(present: Set<FieldKey>, what: string): void {
  const missing = FIELD_KEYS.filter((key) => !present.has(key)).map((key) => FIELDS[key].wire);
  if (missing.length > 0) {
    throw new UpstreamNotDtoError(
      `upstream IntegrationStatusDTO lacks the ${what}${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (every member must be present, null if empty)`,
      { field: missing[0] },
    );
  }
}

function wrongType(key: FieldKey, expected: string, got: string): UpstreamNotDtoError {
  const wire = FIELDS[key].wire;
  return new UpstreamNotDtoError(`${wire} must be ${expected}, got ${got}`, { field: wire });
}

function showLiteral(text: string): string {
  return quoteForMessage(text, 40);
}

/** .NET `long` from an integer literal → canonical decimal string (`-0` → `0`). */
function int64FromLiteral(text: string, key: FieldKey): string {
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
function int32FromLiteral(text: string): number {
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
function int32FromJsonNumber(text: string): number {
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

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

/** Folds only A-Z, so a non-ASCII look-alike (e.g. the Kelvin sign) never matches a field name. */
function asciiLower(text: string): string {
  let folded = FOLDED.get(text);
  if (folded === undefined) {
    folded = text.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
    if (FOLDED.size < MAX_FOLDED) FOLDED.set(text, folded);
  }
  return folded;
}

/** Sets an own enumerable property, also for keys like `__proto__` that plain assignment would swallow. */
function setOwn(target: Record<string, string | null>, key: string, value: string | null): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

function firstNonXmlWhitespace(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return i;
  }
  return -1;
}

function localNameOf(qName: string): string {
  const colon = qName.indexOf(':');
  return colon === -1 ? qName : qName.slice(colon + 1);
}

/** An element/attribute/prefix name made safe for a message (it comes from the body). */
function safeName(name: string): string {
  const cleaned = name.replace(/[^\p{L}\p{N}_.:#&;-]/gu, '?');
  return cleaned.length > 60 ? `${cleaned.slice(0, 60)}…` : cleaned;
}

type MarkupPeek = { kind: 'html' } | { kind: 'doctype' } | { kind: 'element'; name: string } | { kind: 'other' };

/**
 * Looks at the first markup of a body without parsing it: skips the XML declaration, processing
 * instructions, comments and whitespace, then reports an HTML doctype/`<html>`, another DOCTYPE,
 * or the root element's name. Cheap, and works on HTML that is not well-formed XML.
 */
function peekMarkupRoot(text: string, start: number): MarkupPeek {
  let i = start;
  for (;;) {
    while (i < text.length && ' \t\r\n'.includes(text[i])) i++;
    if (text.startsWith('<?', i)) {
      const end = text.indexOf('?>', i + 2);
      if (end === -1) return { kind: 'other' };
      i = end + 2;
    } else if (text.startsWith('<!--', i)) {
      const end = text.indexOf('-->', i + 4);
      if (end === -1) return { kind: 'other' };
      i = end + 3;
    } else if (text.slice(i, i + 9).toLowerCase() === '<!doctype') {
      return /^<!doctype\s+html[\s>]/i.test(text.slice(i, i + 20)) ? { kind: 'html' } : { kind: 'doctype' };
    } else if (text[i] === '<') {
      const m = /^<([^\s/>!?]+)/.exec(text.slice(i, i + 256));
      if (m === null) return { kind: 'other' };
      return localNameOf(m[1]).toLowerCase() === 'html' ? { kind: 'html' } : { kind: 'element', name: m[1] };
    } else {
      return { kind: 'other' };
    }
  }
}

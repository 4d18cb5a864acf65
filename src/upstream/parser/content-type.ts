/**
 * What a body is before it is read: the Content-Type's media type and charset, bytes decoded to text under that
 * charset (or a byte-order mark), a cheap look at the first markup to tell an HTML page or a DOCTYPE from an XML DTO,
 * and the refusal of any DTD before an XML parser sees the text.
 */
import { UpstreamBodyUnreadableError, quoteForMessage } from '../errors';
import { localNameOf } from './text';

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

export function classifyMediaType(mediaType: string | null): 'json' | 'xml' | 'sniff' {
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
 * The UTF-8 decoder every answer of the usual charset shares: a decode without `stream` keeps no state between
 * calls, a failed one included.
 */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Bytes → text. A BOM (UTF-8, UTF-16LE, UTF-16BE) decides when no charset is declared and must
 * agree with a declared one. `utf-16` without a BOM is read as little-endian, as the WHATWG
 * Encoding Standard and .NET's `Encoding.Unicode` do. Decoding is fatal: invalid bytes are an
 * error, never U+FFFD, because a replaced character in IntegrationName or a dictionary value would
 * be silently wrong.
 */
export function decodeBody(body: Buffer | string, charset: string | null): string {
  if (typeof body === 'string') return body.charCodeAt(0) === 0xfeff ? body.slice(1) : body;
  if (!(body instanceof Uint8Array)) {
    throw new UpstreamBodyUnreadableError('upstream body is neither a Buffer nor a string');
  }
  const declared = declaredEncoding(charset);
  const bom = byteOrderMark(body);
  const encoding = encodingToRead(declared, bom);
  const bomLength = bom === null ? 0 : bom === 'utf-8' ? 3 : 2;
  const bytes = body.subarray(bomLength);
  if (encoding === 'us-ascii') refuseNonAscii(bytes, bomLength);
  return decode(bytes, encoding);
}

/** The encoding a Content-Type charset names, null when none is declared; an unsupported one is refused. */
function declaredEncoding(charset: string | null): Encoding | 'utf-16' | null {
  if (charset === null) return null;
  const known = CHARSET_LABELS[charset];
  if (known === undefined) {
    throw new UpstreamBodyUnreadableError(
      `upstream body declares unsupported charset ${quoteForMessage(charset, 40)} (supported: utf-8, utf-16, utf-16le, utf-16be, us-ascii)`,
    );
  }
  return known;
}

/** The encoding a byte-order mark at the start of `body` stands for (3 bytes for UTF-8, 2 for UTF-16), or null. */
function byteOrderMark(body: Uint8Array): Encoding | null {
  if (body.length >= 3 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) return 'utf-8';
  if (body.length >= 2 && body[0] === 0xff && body[1] === 0xfe) return 'utf-16le';
  if (body.length >= 2 && body[0] === 0xfe && body[1] === 0xff) return 'utf-16be';
  return null;
}

/** The BOM's encoding, which must agree with a declared charset, or else the declared one (UTF-8 when neither). */
function encodingToRead(declared: Encoding | 'utf-16' | null, bom: Encoding | null): Encoding {
  if (bom === null) return declared === null ? 'utf-8' : declared === 'utf-16' ? 'utf-16le' : declared;
  const agrees = declared === null || bom === declared || (declared === 'utf-16' && bom !== 'utf-8');
  if (!agrees) {
    throw new UpstreamBodyUnreadableError(
      `upstream body declares charset ${declared} but starts with a ${bom} byte-order mark`,
    );
  }
  return bom;
}

/** Refuses a byte above 0x7F in a body declared us-ascii; `bomLength` makes the reported offset the body's. */
function refuseNonAscii(bytes: Uint8Array, bomLength: number): void {
  const bad = bytes.findIndex((b) => b > 0x7f);
  if (bad !== -1) {
    throw new UpstreamBodyUnreadableError(
      `upstream body declares charset us-ascii but byte ${bad + bomLength} is 0x${bytes[bad].toString(16)}`,
    );
  }
}

/** `bytes` (the BOM already removed) decoded as `encoding`; invalid or truncated bytes are refused. */
function decode(bytes: Uint8Array, encoding: Encoding): string {
  try {
    // ignoreBOM: the BOM is already removed; a second one would be content, not a marker.
    const decoder =
      encoding === 'utf-8' || encoding === 'us-ascii'
        ? UTF8
        : new TextDecoder(encoding, { fatal: true, ignoreBOM: true });
    return decoder.decode(bytes);
  } catch {
    throw new UpstreamBodyUnreadableError(
      `upstream body is not valid ${encoding} (invalid or truncated byte sequence)`,
    );
  }
}

export type MarkupPeek = { kind: 'html' } | { kind: 'doctype' } | { kind: 'element'; name: string } | { kind: 'other' };

/**
 * Looks at the first markup of a body without parsing it: skips the XML declaration, processing
 * instructions, comments and whitespace, then reports an HTML doctype/`<html>`, another DOCTYPE,
 * or the root element's name. Cheap, and works on HTML that is not well-formed XML.
 */
export function peekMarkupRoot(text: string, start: number): MarkupPeek {
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

export function refuseDtd(text: string): void {
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

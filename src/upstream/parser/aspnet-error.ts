/**
 * Reads what an upstream error answer says: the ASP.NET Web API `HttpError` body, and a short excerpt of any body for
 * error messages. Both are best effort and never throw: an error answer is already a failure, its text only explains it.
 */
import { parse as parseLosslessJson } from 'lossless-json';
import type { AspNetErrorDetails } from '../errors';
import { decodeBody, parseContentType } from './content-type';
import { JsonNumber, isPlainJsonObject } from './json-dto';
import { asciiLower, firstNonXmlWhitespace } from './text';
import { childElements, parseXmlDocument, textContent } from './xml-document';

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

import { ProblemException } from './problem';

/**
 * Opaque keyset cursors of the audit trail and the watermark history: base64url of `[tag, id]`, the id below which
 * the next page starts. Anything else is a 400 naming `cursor`.
 */
export type IdCursorTag = 'a' | 'w';

export function encodeIdCursor(tag: IdCursorTag, beforeId: string): string {
  return Buffer.from(JSON.stringify([tag, beforeId])).toString('base64url');
}

/** @throws ProblemException 400 when `text` is not a cursor of this list */
export function decodeIdCursor(tag: IdCursorTag, text: string): string {
  if (text.length <= 1024 && /^[A-Za-z0-9_-]+$/.test(text)) {
    try {
      const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
      if (
        Array.isArray(value) &&
        value.length === 2 &&
        value[0] === tag &&
        typeof value[1] === 'string' &&
        /^[1-9]\d{0,18}$/.test(value[1]) &&
        BigInt(value[1]) <= 9223372036854775807n
      ) {
        return value[1];
      }
    } catch {
      // not JSON: refused below
    }
  }
  throw ProblemException.invalidParameters([
    { name: 'cursor', reason: 'must be a cursor returned by this API (nextCursor)' },
  ]);
}

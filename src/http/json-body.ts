import type { IncomingHttpHeaders } from 'node:http';
import { parse as parseLosslessJson } from 'lossless-json';
import secureJson from 'secure-json-parse';
import { quoteForMessage } from '../upstream/errors';
import { titleFor } from './problem-details.filter';
import { ProblemException, problemTypeFor } from './problem';

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The JSON of a request body sent as `application/json`, or undefined for an empty one (as .NET's HttpClient sends on
 * a bodiless POST). Bodies are read as they arrive: a content coding or a charset other than UTF-8 (RFC 8259 §8.1)
 * is refused 415 rather than misread, and bytes that are not UTF-8 are refused 400 rather than stored as U+FFFD.
 */
export function jsonBodyOf(headers: IncomingHttpHeaders, body: Buffer): unknown {
  const coding = headers['content-encoding']?.trim().toLowerCase();
  if (coding !== undefined && coding !== '' && coding !== 'identity') {
    throw problem(415, 'content-encoding: must be absent or identity (request bodies are read as sent)');
  }
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)/i.exec(headers['content-type'] ?? '')?.[1].toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw problem(415, 'content-type: charset must be utf-8 (JSON is UTF-8)');
  }
  if (body.length === 0) return undefined;
  let text: string;
  try {
    text = UTF8.decode(body);
  } catch {
    throw problem(400, 'body: must be UTF-8 text');
  }
  return parseJsonBody(text);
}

/**
 * A request body's JSON, refused with a 400 that says why: not JSON at all, a key that would set an object's
 * prototype where the body is merged or assigned (`__proto__`, `constructor.prototype`), or a key written twice in
 * one object at any depth (JSON.parse keeps the last silently, other readers the first).
 *
 * The value is JSON.parse's, and its message is the reason given for text that is not JSON. lossless-json reads the
 * text a second time only to find repeated keys: it reports a repeat whose value differs from the earlier one, and
 * lets through one whose value it judges deep-equal (`{"a":1,"a":1}`), which is harmless because either reading
 * gives the same value. Numbers are compared as JSON.parse reads them, and its deep equality compares arrays and
 * objects by their members alone, so it also lets through `{"a":{},"a":[]}`, whose value is the last, as JSON.parse
 * gives it.
 */
export function parseJsonBody(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw problem(400, `body: must be valid JSON (${(error as Error).message})`);
  }
  if (value !== null && typeof value === 'object') {
    try {
      secureJson.scan(value, { protoAction: 'error', constructorAction: 'error' });
    } catch {
      throw problem(400, 'body: must not have a key named __proto__, nor constructor.prototype');
    }
    refuseRepeatedKeys(text);
  }
  return value;
}

class RepeatedKey extends Error {
  constructor(readonly key: string) {
    super('repeated key');
  }
}

function throwRepeatedKey({ key }: { key: string }): never {
  throw new RepeatedKey(key);
}

/** Refuses `text`, which JSON.parse has read as an object or an array, if one of its objects has a key twice. */
function refuseRepeatedKeys(text: string): void {
  try {
    parseLosslessJson(text, null, { parseNumber: Number, onDuplicateKey: throwRepeatedKey });
  } catch (error) {
    if (error instanceof RepeatedKey) {
      throw problem(
        400,
        `body: the key ${quoteForMessage(error.key, 60)} appears twice in one object (the names within an object must be unique, as RFC 8259 §4 advises)`,
      );
    }
    // lossless-json recurses once per level, so a body nested some thousands deep overflows the stack.
    if (error instanceof RangeError) throw problem(400, 'body: must not nest arrays and objects thousands deep');
    throw problem(400, `body: must be valid JSON (${(error as Error).message})`);
  }
}

function problem(status: 400 | 415, detail: string): ProblemException {
  return new ProblemException({ type: problemTypeFor(status), title: titleFor(status), status, detail });
}

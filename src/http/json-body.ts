import type { IncomingHttpHeaders } from 'node:http';
import secureJson from 'secure-json-parse';
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
 * A request body's JSON, refused with a 400 that says why: not JSON at all, or a key that would set an object's
 * prototype where the body is merged or assigned (`__proto__`, `constructor.prototype`).
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
  }
  return value;
}

function problem(status: 400 | 415, detail: string): ProblemException {
  return new ProblemException({ type: problemTypeFor(status), title: titleFor(status), status, detail });
}

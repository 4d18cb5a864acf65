import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiKeyConfig } from '../../config';
import { PROBLEM_TYPES, ProblemException } from '../problem';
import type { Scope } from './access.decorators';

/** What a request presented. */
export type Credential = { kind: 'missing' } | { kind: 'unknown' } | { kind: 'key'; key: ApiKeyConfig };

/** The authenticated caller, kept on the request for the rate limiter and logs. */
export interface Principal {
  name: string;
  scopes: ReadonlyArray<Scope>;
}

const REALM = 'tidemark';
/** Longer than any key `npm run apikey` makes by far; longer values are refused without hashing. */
const MAX_KEY_LENGTH = 1024;

type HeaderBag = Record<string, string | string[] | undefined>;

/**
 * Recognises facade API keys. A key arrives as `Authorization: Bearer <key>` or `X-API-Key: <key>`; only the
 * SHA-256 of each configured key is known. The presented key's digest is compared with every configured digest
 * using `crypto.timingSafeEqual`, without stopping at a match, so the time taken says nothing about which key
 * (or how much of one) matched. A string once proven to be a key is remembered (see `known`); a guess is looked up
 * there by a hash-table probe, which compares strings only on a hash collision, before being hashed and compared.
 */
export class ApiKeyAuthenticator {
  private readonly digests: Array<{ key: ApiKeyConfig; digest: Buffer }>;
  private readonly seen = new WeakMap<object, Credential>();
  /**
   * Presented strings already proven to be a configured key, so that a client's every request does not hash its
   * key again: hashing is a large part of a cached read's cost. Only matches are kept: a string matches only if its
   * digest equals a configured one, so this holds at most one entry per configured key, and no sequence of bad
   * keys can grow it. Unknown keys are still hashed and compared in constant time on every request.
   */
  private readonly known = new Map<string, ApiKeyConfig>();

  constructor(keys: readonly ApiKeyConfig[]) {
    this.digests = keys.map((key) => ({ key, digest: Buffer.from(key.sha256Hex, 'hex') }));
  }

  /** The credential of a request (memoized per request object: the rate limiter and the guard both ask). */
  identify(request: { headers: HeaderBag }): Credential {
    const known = this.seen.get(request);
    if (known) return known;
    const credential = this.check(presentedKey(request.headers));
    this.seen.set(request, credential);
    return credential;
  }

  /**
   * Decides whether a request may use something that needs `scope`.
   * @returns the principal
   * @throws ProblemException 401 (with `WWW-Authenticate`) for a missing or unknown key, 403 for a missing scope
   */
  authorize(request: { headers: HeaderBag }, scope: Scope): Principal {
    const credential = this.identify(request);
    if (credential.kind === 'missing' && single(request.headers.authorization) !== undefined) {
      // RFC 6750 §3.1: a request whose credentials are not in the form asked for is an invalid request.
      throw unauthorized(
        'The Authorization header must be "Bearer <key>" (or send the key as "X-API-Key: <key>").',
        `Bearer realm="${REALM}", error="invalid_request"`,
      );
    }
    if (credential.kind === 'missing') {
      throw unauthorized(
        'An API key is required: send it as "Authorization: Bearer <key>" or "X-API-Key: <key>".',
        `Bearer realm="${REALM}"`,
      );
    }
    if (credential.kind === 'unknown') {
      throw unauthorized('The API key is not recognised.', `Bearer realm="${REALM}", error="invalid_token"`);
    }
    const { key } = credential;
    if (!key.scopes.includes(scope)) {
      throw new ProblemException({
        type: PROBLEM_TYPES.forbidden,
        title: 'Forbidden',
        status: 403,
        detail: `The API key "${key.name}" lacks the "${scope}" scope this operation needs.`,
      });
    }
    return { name: key.name, scopes: key.scopes };
  }

  private check(presented: string | null): Credential {
    if (presented === null) return { kind: 'missing' };
    if (presented.length > MAX_KEY_LENGTH) return { kind: 'unknown' };
    const remembered = this.known.get(presented);
    if (remembered) return { kind: 'key', key: remembered };
    const digest = sha256(presented);
    let match: ApiKeyConfig | null = null;
    for (const candidate of this.digests) {
      if (timingSafeEqual(digest, candidate.digest) && match === null) match = candidate.key;
    }
    if (!match) return { kind: 'unknown' };
    this.known.set(presented, match);
    return { kind: 'key', key: match };
  }
}

/** SHA-256 of a key's UTF-8 bytes; API_KEYS holds its hex as `sha256:<hex>`. */
export function sha256(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** The key from `Authorization: Bearer` (preferred) or `X-API-Key`; null when neither carries one. */
function presentedKey(headers: HeaderBag): string | null {
  const authorization = single(headers.authorization);
  const bearer = authorization === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
  if (bearer) return bearer[1];
  const apiKey = single(headers['x-api-key'])?.trim();
  return apiKey ? apiKey : null;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function unauthorized(detail: string, challenge: string): ProblemException {
  return new ProblemException(
    { type: PROBLEM_TYPES.unauthorized, title: 'Unauthorized', status: 401, detail },
    { 'WWW-Authenticate': challenge },
  );
}

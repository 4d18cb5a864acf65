import { createHash } from 'node:crypto';
import type { AppConfig } from '../config';

/** What every redacted value is replaced by in logs. */
export const REDACTED = '[REDACTED]';

/** Field names whose values are secrets wherever they appear in a logged object. */
const SECRET_KEYS = [
  'authorization',
  'Authorization',
  'proxy-authorization',
  'x-api-key',
  'X-API-Key',
  'cookie',
  'Cookie',
  'set-cookie',
  'password',
  'Password',
  'passwd',
  'token',
  'Token',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'idToken',
  'id_token',
  'apiKey',
  'api_key',
  'clientSecret',
  'client_secret',
  'secret',
];

/**
 * The secret field names, lower-cased: {@link scrubValue} replaces the value of a field so named, in any letter
 * case and at any depth it walks, by {@link REDACTED}. The log formatter walks every logged object anyway, so
 * this costs a set lookup per field, where pino's wildcard `redact` paths cost more than the rest of a line.
 */
const SECRET_KEY_NAMES: ReadonlySet<string> = new Set(SECRET_KEYS.map((key) => key.toLowerCase()));

/**
 * pino serializers that replace a secret-named field by {@link REDACTED}: the log formatter never sees a child
 * logger's bindings, but serializers apply to them (and to top-level fields, which the formatter has already
 * redacted). Keys as {@link SECRET_KEYS} spells them.
 */
export function secretKeySerializers(): Record<string, () => string> {
  return Object.fromEntries(SECRET_KEYS.map((key) => [key, () => REDACTED]));
}

/** Field names already judged by {@link isSecretKey}: logged objects repeat the same few names. */
const SECRET_KEY_MEMO = new Map<string, boolean>();
const SECRET_KEY_MEMO_LIMIT = 1_000;

/** True when a field of this name holds a secret, whatever its value. */
export function isSecretKey(key: string): boolean {
  let secret = SECRET_KEY_MEMO.get(key);
  if (secret === undefined) {
    secret = SECRET_KEY_NAMES.has(key.toLowerCase());
    if (SECRET_KEY_MEMO.size >= SECRET_KEY_MEMO_LIMIT) SECRET_KEY_MEMO.clear();
    SECRET_KEY_MEMO.set(key, secret);
  }
  return secret;
}

/** `scheme://user:pass@host` and `scheme://user@host`: the userinfo part of any URL in a text. */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"'<>]+@/gi;
/**
 * Credentials after an auth scheme, as in an Authorization header echoed into a message. Scheme names are
 * case-insensitive (RFC 9110 §11.1), so `bearer`, `BASIC` and `Bearer` all introduce credentials.
 */
const AUTH_SCHEME_CREDENTIALS = /\b(Bearer|Basic)\s+(?![A-Za-z-]+=")[A-Za-z0-9._~+/-]{6,}=*/gi;
/** What every match of {@link AUTH_SCHEME_CREDENTIALS} holds: a scheme name, in any letter case. */
const AUTH_SCHEME_NAME = /bearer|basic/i;
/** A query parameter: its separator, name and value, as they appear in a URL or a text quoting one. */
const QUERY_PARAMETER = /([?&])([^=&#\s?]*)=([^&#\s]*)/g;
/** Names that say a query parameter carries a credential, whatever its value. */
const CREDENTIAL_PARAMETER_NAME =
  /^(?:access[_-]?token|token|api[_-]?key|x[_-]api[_-]key|key|auth|authorization|bearer|client[_-]secret|password|passwd|pwd|secret|signature|sig|session|jwt|id[_-]token|refresh[_-]token)$/i;
/** A value that looks like a bearer credential: after an auth scheme, or a JWT. */
const CREDENTIAL_VALUE = /^(?:(?:bearer|basic|token|apikey)\s+\S|eyJ[\w-]*\.[\w-]+\.)/i;
/**
 * Strings that could be an API key: runs of URL-safe and base64 characters, percent-escapes included, long enough
 * to be a key (`npm run apikey` makes 43 characters). Each is hashed and compared with the configured digests.
 */
const KEY_CANDIDATE = /[A-Za-z0-9._~+/%-]{16,1024}={0,2}/g;

/** The lower-case hex SHA-256 digests of the configured API keys (API_KEYS), which are all that is known of them. */
export type KeyDigests = ReadonlySet<string>;
const NO_DIGESTS: KeyDigests = new Set();

/**
 * Runs of base64url characters (43 or more) in names an operator must be able to read in the logs: the configured
 * integration names and the migrations' names. A run equal to one is never taken for a generated key by its shape
 * (CamelCase words change letter case as often as a key does), though a configured API key in it still is.
 */
export type KnownNames = ReadonlySet<string>;
const NO_NAMES: KnownNames = new Set();

/** The {@link KnownNames} of the configured integrations and of `otherNames`, for {@link scrubText}. */
export function knownNamesOf(config: AppConfig, otherNames: readonly string[] = []): KnownNames {
  const runs = new Set<string>();
  for (const name of [...config.integrations.map((integration) => integration.integrationName), ...otherNames]) {
    for (const [run] of name.matchAll(BASE64URL_RUN)) runs.add(run);
  }
  return runs;
}

/** The configured API key digests, for {@link scrubText}. */
export function apiKeyDigestsOf(config: AppConfig): KeyDigests {
  return new Set(config.access.apiKeys.map((key) => key.sha256Hex));
}

/**
 * Removes credentials from free text: URL userinfo (`postgres://u:p@h` → `postgres://[REDACTED]@h`), the credentials
 * after `Bearer` / `Basic` (in any letter case), every query parameter whose name says it is a credential or whose value looks like one
 * or is a configured API key, every other occurrence of a configured API key (a path segment, a query parameter's
 * name, say), every literal in `secrets`, and every run of base64url characters shaped like a key made by
 * `npm run apikey` (see {@link looksGenerated}) or holding a configured key of that length: the whole run, so
 * `/x<key>.json?<key>=1` becomes `/[REDACTED].json?[REDACTED]=1`, whether or not the key is configured.
 * @param secrets exact secret values to cut out, longest first (see {@link secretValuesOf})
 * @param keyDigests the configured API keys' digests (see {@link apiKeyDigestsOf})
 * @param knownNames runs that are names, not keys, whatever their shape (see {@link knownNamesOf})
 */
export function scrubText(
  text: string,
  secrets: readonly string[] = [],
  keyDigests: KeyDigests = NO_DIGESTS,
  knownNames: KnownNames = NO_NAMES,
): string {
  let out = text;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  // Each pattern is tried only on a text holding what every match of it holds (`@`; `bearer` or `basic` in any case;
  // `=`; a run of 16 key characters): most logged texts hold none, and these checks cost a scan where the patterns
  // cost more.
  if (out.includes('@')) out = out.replace(URL_USERINFO, `$1${REDACTED}@`);
  if (AUTH_SCHEME_NAME.test(out)) out = out.replace(AUTH_SCHEME_CREDENTIALS, `$1 ${REDACTED}`);
  if (out.includes('=')) {
    out = out.replace(QUERY_PARAMETER, (whole: string, separator: string, name: string, value: string) =>
      isCredentialParameter(name, value, keyDigests) ? `${separator}${name}=${REDACTED}` : whole,
    );
  }
  if (keyDigests.size > 0 && hasKeyCandidate(out)) out = out.replace(KEY_CANDIDATE, (c) => redactKey(c, keyDigests));
  if (!hasRunOf(out, BASE64URL_CHARACTER, GENERATED_KEY_LENGTH)) return out;
  return out.replace(BASE64URL_RUN, (run) =>
    (looksGenerated(run) && !knownNames.has(run)) || holdsApiKey(run, keyDigests) ? REDACTED : run,
  );
}

/**
 * A run of {@link KEY_CANDIDATE} that is a configured key, or ends with a key and the `=` of a query parameter it
 * names, or holds one between slashes: the key is replaced by {@link REDACTED}.
 */
function redactKey(candidate: string, keyDigests: KeyDigests): string {
  if (isApiKey(candidate, keyDigests)) return REDACTED;
  for (let equals = 1; equals <= 2 && candidate.endsWith('='.repeat(equals)); equals++) {
    if (isApiKey(candidate.slice(0, -equals), keyDigests)) return `${REDACTED}${'='.repeat(equals)}`;
  }
  return candidate.includes('/') ? redactKeysBetweenSlashes(candidate, keyDigests) : candidate;
}

/** Length of a key made by `npm run apikey`: 32 random bytes in base64url, unpadded. */
const GENERATED_KEY_LENGTH = 43;
/** A run of base64url characters long enough to hold a generated key. */
const BASE64URL_RUN = /[A-Za-z0-9_-]{43,}/g;
/** Base64url characters, by char code: their class (1 upper, 2 lower, 3 digit, 4 `-` or `_`), 0 for the rest. */
const BASE64URL_CHARACTER = new Uint8Array(128);
for (let code = 0; code < 128; code++) {
  const c = String.fromCharCode(code);
  BASE64URL_CHARACTER[code] = /[A-Z]/.test(c) ? 1 : /[a-z]/.test(c) ? 2 : /[0-9]/.test(c) ? 3 : /[-_]/.test(c) ? 4 : 0;
}
const SEPARATOR_CLASS = 4;
/**
 * Least changes of class (upper-case letter, lower-case letter, digit) between letters and digits that follow one
 * another, `-` and `_` skipped, within 43 characters of a generated key. Random base64url changes class at 62 % of
 * such neighbours, 24 times in a key on average; fewer than 14 happen in about 2 keys in 10,000 (those are still
 * caught when configured, by {@link holdsApiKey}). Names made of words change class at their edges only:
 * `Customer_Invoices_2024_Export_Nightly_Full_Reload` has 10 changes in its first 43 characters.
 */
const MIN_CLASS_CHANGES = 14;
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * True when a run of base64url characters is shaped like a key made by `npm run apikey`: some 43 characters in a
 * row hold at least {@link MIN_CLASS_CHANGES} changes of class, the run holds an upper-case and a lower-case
 * letter, and it does not decode to text (the API's cursors are base64url JSON; a key's 32 random bytes are not
 * text). Hex digests (one letter case), UUIDs (too short), cursors and most names made of words are left alone.
 */
function looksGenerated(run: string): boolean {
  // Where each change's earlier character stands, oldest first: a change counts while that character is among
  // the last 43.
  const changes: number[] = [];
  let first = 0;
  let previous = -1;
  let window = false;
  for (let i = 0; i < run.length && !window; i++) {
    const kind = BASE64URL_CHARACTER[run.charCodeAt(i)];
    if (kind === SEPARATOR_CLASS) continue;
    if (previous >= 0 && kind !== BASE64URL_CHARACTER[run.charCodeAt(previous)]) changes.push(previous);
    previous = i;
    while (first < changes.length && changes[first] <= i - GENERATED_KEY_LENGTH) first += 1;
    window = changes.length - first >= MIN_CLASS_CHANGES;
  }
  return window && /[A-Z]/.test(run) && /[a-z]/.test(run) && !decodesToText(run);
}

/** True when `run`, read as base64url, is UTF-8 text without control characters. */
function decodesToText(run: string): boolean {
  try {
    return !/[\u0000-\u001f\u007f]/.test(STRICT_UTF8.decode(Buffer.from(run, 'base64url')));
  } catch {
    return false;
  }
}

/** True when a configured key of the generated length lies anywhere in `run` (a key that fails the shape test). */
function holdsApiKey(run: string, keyDigests: KeyDigests): boolean {
  if (keyDigests.size === 0 || run.length > 1024) return false;
  for (let start = 0; start + GENERATED_KEY_LENGTH <= run.length; start++) {
    if (isApiKey(run.slice(start, start + GENERATED_KEY_LENGTH), keyDigests)) return true;
  }
  return false;
}

/** The characters of {@link KEY_CANDIDATE}'s runs, by char code (all ASCII). */
const KEY_CHARACTER = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~+/%-')
  KEY_CHARACTER[c.charCodeAt(0)] = 1;

/** True when `text` holds a run of at least 16 characters that {@link KEY_CANDIDATE} could match. */
function hasKeyCandidate(text: string): boolean {
  return hasRunOf(text, KEY_CHARACTER, 16);
}

/** True when `text` holds `length` characters in a row that `characters` (by char code, ASCII) marks non-zero. */
function hasRunOf(text: string, characters: Uint8Array, length: number): boolean {
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 128 && characters[code] !== 0) {
      if (++run >= length) return true;
    } else {
      run = 0;
    }
  }
  return false;
}

/** Most segments a run of characters is searched in for a key, as `/` separates path segments (and is base64). */
const MAX_SEGMENTS = 16;

/**
 * A key in a path segment, or one containing `/` after other text: the run of characters spans its neighbours, so
 * every sequence of whole `/`-separated segments is tried, longest first from the left.
 */
function redactKeysBetweenSlashes(run: string, keyDigests: KeyDigests): string {
  const parts = run.split('/');
  if (parts.length > MAX_SEGMENTS) return run;
  const out: string[] = [];
  for (let start = 0; start < parts.length;) {
    let end = parts.length;
    while (end > start) {
      const candidate = parts.slice(start, end).join('/');
      if (candidate.length >= 16 && isApiKey(candidate, keyDigests)) break;
      end -= 1;
    }
    if (end > start) {
      out.push(REDACTED);
      start = end;
    } else {
      out.push(parts[start]);
      start += 1;
    }
  }
  return out.join('/');
}

function isCredentialParameter(name: string, value: string, keyDigests: KeyDigests): boolean {
  if (value.length === 0 || value === REDACTED) return false;
  if (CREDENTIAL_PARAMETER_NAME.test(safeDecode(name))) return true;
  const decoded = safeDecode(value.replace(/\+/g, ' '));
  return CREDENTIAL_VALUE.test(decoded) || (keyDigests.size > 0 && isApiKey(value, keyDigests));
}

/** Per set of digests, strings already found not to be one of its keys; bounded, cleared when full. */
const notKeysOf = new WeakMap<KeyDigests, Set<string>>();
const NOT_KEYS_LIMIT = 10_000;

/** True when `text`, as written or percent-decoded, is one of the configured API keys. */
function isApiKey(text: string, keyDigests: KeyDigests): boolean {
  let notKeys = notKeysOf.get(keyDigests);
  if (notKeys === undefined) notKeysOf.set(keyDigests, (notKeys = new Set()));
  if (notKeys.has(text)) return false;
  const match = keyDigests.has(sha256Hex(text)) || (text.includes('%') && keyDigests.has(sha256Hex(safeDecode(text))));
  if (!match) {
    if (notKeys.size >= NOT_KEYS_LIMIT) notKeys.clear();
    notKeys.add(text);
  }
  return match;
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * Deep copy of `value` with {@link scrubText} applied to every string and the value of every secret-named field
 * ({@link isSecretKey}) replaced by {@link REDACTED}, for log objects. Bounded in depth and
 * breadth so that a huge or cyclic object can't stall logging; what lies past the bound is replaced by a marker.
 */
export function scrubValue(
  value: unknown,
  secrets: readonly string[],
  keyDigests: KeyDigests = NO_DIGESTS,
  knownNames: KnownNames = NO_NAMES,
  depth = 0,
  seen = new WeakSet<object>(),
): unknown {
  if (typeof value === 'string') return scrubText(value, secrets, keyDigests, knownNames);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 8) return '[too deep]';
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  if (value instanceof Error) {
    // pino's err serializer runs before formatters, so a raw Error only gets here when logged under another key.
    return {
      type: value.name,
      message: scrubText(value.message, secrets, keyDigests, knownNames),
      stack: value.stack && scrubText(value.stack, secrets, keyDigests, knownNames),
    };
  }
  if (Array.isArray(value))
    return value.slice(0, 200).map((item) => scrubValue(item, secrets, keyDigests, knownNames, depth + 1, seen));
  // Class instances (an IncomingMessage, a socket) are left to their serializers: walking them would be huge.
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value))
    out[key] = isSecretKey(key) ? REDACTED : scrubValue(item, secrets, keyDigests, knownNames, depth + 1, seen);
  return out;
}

/**
 * The secret values in the configuration, as logs must never show them: the upstream token, password and client
 * secret, the webhook signing secrets (`whsec_…` and the base64 key alone), the passwords in the database, upstream
 * and webhook URLs (raw and percent-decoded), and the Basic credentials built from them. Values shorter than 4 characters are left out (they would mangle ordinary words and can't be
 * recovered from a log line anyway). Longest first, so that a secret containing another is cut whole.
 */
export function secretValuesOf(config: AppConfig): string[] {
  const values: string[] = [];
  const auth = config.upstream.auth;
  if (auth.kind === 'bearer') values.push(auth.token);
  if (auth.kind === 'basic') {
    values.push(auth.password, Buffer.from(`${auth.username}:${auth.password}`).toString('base64'));
  }
  if (auth.kind === 'client_credentials') {
    values.push(auth.clientSecret, Buffer.from(`${auth.clientId}:${auth.clientSecret}`).toString('base64'));
  }
  for (const hook of config.events.webhooks) {
    const key = hook.key.toString('base64');
    values.push(`whsec_${key}`, key);
  }
  for (const url of [
    config.database.url,
    config.upstream.baseUrl,
    auth.kind === 'client_credentials' ? auth.tokenUrl : null,
    ...config.events.webhooks.map((hook) => hook.url),
  ]) {
    if (!url) continue;
    try {
      const parsed = new URL(url);
      // The user name is left to the URL pattern: cut out of every text, a name like "postgres" would mangle words.
      if (parsed.password) {
        values.push(parsed.password, safeDecode(parsed.password));
        values.push(Buffer.from(`${safeDecode(parsed.username)}:${safeDecode(parsed.password)}`).toString('base64'));
      }
    } catch {
      // config validation accepted it as a URL; nothing to extract otherwise
    }
  }
  return [...new Set(values.filter((v) => v.length >= 4))].sort((a, b) => b.length - a.length);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

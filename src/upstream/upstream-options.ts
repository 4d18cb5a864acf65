/**
 * The upstream client's configuration: its types, defaults and validation. Invalid options are a configuration
 * error raised at startup, with a message that never includes credentials.
 */
import { assertValidTimeZone } from './dotnet-date';
import type { UpstreamAttempt } from './errors';
import type { IntegrationStatus } from './integration-status';
import type { CallStop } from './call-stop';
import { type Target, hostPortOf, targetOf } from './transport';

/** Nest injection token of {@link UpstreamClientOptions}. */
export const UPSTREAM_CLIENT_OPTIONS = Symbol('UPSTREAM_CLIENT_OPTIONS');

/** Default for {@link UpstreamClientOptions.maxBodyBytes}: 1 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 1_048_576;
/** Default for {@link UpstreamClientOptions.connectTimeoutMs}. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
/** Defaults for {@link UpstreamClientOptions.retry}. */
export const DEFAULT_RETRY: Readonly<UpstreamRetryOptions> = Object.freeze({
  maxAttempts: 4,
  baseMs: 500,
  maxMs: 30_000,
});
/** Defaults for {@link UpstreamClientOptions.breaker}. */
export const DEFAULT_BREAKER: Readonly<UpstreamBreakerOptions> = Object.freeze({
  threshold: 5,
  halfOpenAfterMs: 60_000,
});
/** Path of the default token endpoint (client_credentials and password) under the base URL. */
export const DEFAULT_TOKEN_PATH = '/api/token/authorize';
/** Path of IntegrationStart under the base URL. */
export const ENDPOINT_PATH = '/api/integration/IntegrationStatus/IntegrationStart';

/** How the client authenticates to the upstream. */
export type UpstreamAuth =
  | { kind: 'none' }
  | { kind: 'bearer'; token: string }
  | { kind: 'basic'; username: string; password: string }
  | {
      kind: 'client_credentials';
      clientId: string;
      clientSecret: string;
      /** Sent as `scope` when not null/empty. */
      scope?: string | null;
      /** Absolute http(s) URL of the token endpoint; null/absent means `{base}/api/token/authorize`. */
      tokenUrl?: string | null;
      /** Body of the token request: JSON (default) or `application/x-www-form-urlencoded`. */
      requestFormat?: 'json' | 'form';
      /** `grant_type` sent; null/absent means `client_credentials`, the empty string sends none (Gravitate's form). */
      grantType?: string | null;
    }
  | {
      /** Gravitate's own token dialect: a form `{username, password, scope}`, no `grant_type`. */
      kind: 'password';
      username: string;
      password: string;
      /** Sent as `scope` when not null/empty. */
      scope?: string | null;
      /** Absolute http(s) URL of the token endpoint; null/absent means `{base}/api/token/authorize`. */
      tokenUrl?: string | null;
    };

/** Retries of one call. */
export interface UpstreamRetryOptions {
  /** Attempts per call, the first included (>= 1). Default 4. */
  maxAttempts: number;
  /** Backoff base, ms: retry n waits a random time in [0, min(maxMs, baseMs * 2^(n-1))) (full jitter). Default 500. */
  baseMs: number;
  /** Backoff cap, ms. Default 30000. */
  maxMs: number;
}

/** The circuit breaker of the upstream base URL. */
export interface UpstreamBreakerOptions {
  /** Consecutive failed calls (runs, retries included) that open it. Default 5. */
  threshold: number;
  /** How long it stays open before one trial call, ms. Default 60000. */
  halfOpenAfterMs: number;
}

/** Configuration of the upstream client. */
export interface UpstreamClientOptions {
  /**
   * Base URL, e.g. `https://erp.example.com/gravitate`; the endpoint path is appended after
   * removing trailing slashes. `user:pass@` in it is never sent in the URL nor shown in messages;
   * it is used as Basic credentials when `auth` is `none`. No query string or fragment.
   */
  baseUrl: string;
  /** Request (and expected response) format. */
  format: 'json' | 'xml';
  /**
   * Deadline for the whole call, ms: every attempt (connect, send, headers, the entire body), the
   * waits between them and token requests. Retries that cannot finish within it are not made.
   */
  timeoutMs: number;
  /**
   * Deadline for one attempt, ms; default (and at most) `timeoutMs`. When shorter, an attempt that
   * times out is retried within `timeoutMs` (flagged `outcomeUnknownRetried` when its request had
   * been sent).
   */
  attemptTimeoutMs?: number;
  /** Deadline for establishing a new TCP connection (and its TLS handshake), ms. Default 5000. */
  connectTimeoutMs?: number;
  /** Time zone for upstream date texts without an offset, e.g. `America/Chicago`. */
  defaultTimeZone: string;
  auth: UpstreamAuth;
  /** Largest response body accepted, bytes (after decompression). Default 1 MiB. */
  maxBodyBytes?: number;
  /** Retry settings; missing fields take {@link DEFAULT_RETRY}. */
  retry?: Partial<UpstreamRetryOptions>;
  /** Breaker settings; missing fields take {@link DEFAULT_BREAKER}. The first client of a base URL sets them. */
  breaker?: Partial<UpstreamBreakerOptions>;
  /** Random source in [0, 1) for the backoff jitter; default `Math.random` (tests inject their own). */
  random?: () => number;
  /** Clock for token expiry, epoch ms; default `Date.now` (tests inject their own). */
  now?: () => number;
}

/** The outcome of one successful IntegrationStart call. */
export interface IntegrationStartResult {
  status: IntegrationStatus;
  /** HTTP status of the answer (2xx). */
  httpStatus: number;
  /** Wall time of the whole call (all attempts and waits) to the parsed DTO, ms (rounded to 0.1 ms). */
  durationMs: number;
  /** The answer's Content-Type header, as sent. */
  contentType: string | null;
  /** Every attempt, oldest first; the last one succeeded. */
  attempts: UpstreamAttempt[];
  /** True when an attempt whose request had been sent but whose answer never came completely was retried. */
  outcomeUnknownRetried: boolean;
}

/** Per-call options of `UpstreamClient.integrationStart`. */
export interface IntegrationStartCallOptions {
  /**
   * Cancels the call (e.g. on shutdown); the call then rejects with UpstreamAbortedError. A {@link CallStop} shared by
   * many calls costs each call less than an AbortSignal, whose listeners are a list searched on every add and remove.
   */
  signal?: AbortSignal | CallStop;
}

/** The options, validated, with defaults applied. */
export interface ResolvedUpstreamOptions {
  /** The base URL without credentials and trailing slashes (the breaker's key). */
  baseUrl: string;
  /** `host:port` of the base URL, for messages. */
  hostPort: string;
  endpoint: Target;
  /** User and password from the base URL (decoded), and as they were written. */
  urlUserInfo: { user: string; password: string; raw: [string, string] };
  format: 'json' | 'xml';
  timeoutMs: number;
  attemptTimeoutMs: number;
  connectTimeoutMs: number;
  retry: UpstreamRetryOptions;
  breaker: UpstreamBreakerOptions;
  maxBodyBytes: number;
  defaultTimeZone: string;
  auth: UpstreamAuth;
  random: () => number;
  now: () => number;
}

/**
 * Validates `options` and applies the defaults.
 * @throws TypeError / RangeError naming the option and the rule.
 */
export function resolveUpstreamOptions(options: UpstreamClientOptions): ResolvedUpstreamOptions {
  let url: URL;
  try {
    url = new URL(options.baseUrl);
  } catch {
    throw new TypeError('upstream baseUrl is not an absolute URL');
  }
  const raw: [string, string] = [url.username, url.password];
  const urlUserInfo = { user: safeDecode(url.username), password: safeDecode(url.password), raw };
  url.username = '';
  url.password = '';
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`upstream baseUrl must be http:// or https://, got ${url.protocol}`);
  }
  if (url.search !== '' || url.hash !== '') {
    throw new TypeError(`upstream baseUrl ${url.origin}${url.pathname} must not have a query string or fragment`);
  }
  const baseUrl = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  if (options.format !== 'json' && options.format !== 'xml') {
    throw new TypeError(`upstream format must be "json" or "xml", got ${JSON.stringify(String(options.format))}`);
  }
  const timeoutMs = positiveMs(options.timeoutMs, 'timeoutMs');
  const attemptTimeoutMs = Math.min(timeoutMs, positiveMs(options.attemptTimeoutMs ?? timeoutMs, 'attemptTimeoutMs'));
  const connectTimeoutMs = positiveMs(options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, 'connectTimeoutMs');
  const retry = { ...DEFAULT_RETRY, ...definedOnly(options.retry ?? {}) };
  if (!Number.isSafeInteger(retry.maxAttempts) || retry.maxAttempts < 1) {
    throw new RangeError(`upstream retry.maxAttempts must be a positive integer, got ${String(retry.maxAttempts)}`);
  }
  for (const name of ['baseMs', 'maxMs'] as const) {
    if (!(Number.isFinite(retry[name]) && retry[name] >= 0)) {
      throw new RangeError(
        `upstream retry.${name} must be a non-negative number of milliseconds, got ${String(retry[name])}`,
      );
    }
  }
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes <= 0) {
    throw new RangeError(`upstream maxBodyBytes must be a positive integer, got ${String(maxBodyBytes)}`);
  }
  assertValidTimeZone(options.defaultTimeZone);
  return {
    baseUrl,
    hostPort: hostPortOf(url),
    endpoint: targetOf(new URL(`${baseUrl}${ENDPOINT_PATH}`)),
    urlUserInfo,
    format: options.format,
    timeoutMs,
    attemptTimeoutMs,
    connectTimeoutMs,
    retry,
    breaker: { ...DEFAULT_BREAKER, ...definedOnly(options.breaker ?? {}) },
    maxBodyBytes,
    defaultTimeZone: options.defaultTimeZone,
    auth: options.auth ?? { kind: 'none' },
    random: options.random ?? Math.random,
    now: options.now ?? Date.now,
  };
}

/**
 * The connect deadline the options ask for, without validating the rest: the HttpModule's agents are built from it
 * before the client validates everything (an invalid value then fails the client's validation).
 */
export function connectTimeoutOf(options: UpstreamClientOptions): number {
  const value = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  return Number.isFinite(value) && value > 0 ? value : DEFAULT_CONNECT_TIMEOUT_MS;
}

function positiveMs(value: unknown, name: string): number {
  if (!(typeof value === 'number' && Number.isFinite(value) && value > 0)) {
    throw new RangeError(`upstream ${name} must be a positive number of milliseconds, got ${String(value)}`);
  }
  return value;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function safeDecode(component: string): string {
  try {
    return decodeURIComponent(component);
  } catch {
    return component;
  }
}

/**
 * The only code that talks HTTP to the upstream: `POST api/integration/IntegrationStatus/IntegrationStart`
 * (help page: /work/shared/seed/IntegrationStart-api-help.txt), with retries, a circuit breaker per
 * upstream base URL, and the client_credentials token flow.
 */
import * as nodeHttp from 'node:http';
import { performance } from 'node:perf_hooks';
import { Inject, Injectable, type OnModuleDestroy, Optional } from '@nestjs/common';
import type { Agent } from 'undici';
import { DelegateBackoff, handleWhen, isBrokenCircuitError, retry } from 'cockatiel';
import {
  type UpstreamBreaker,
  UpstreamBreakerRegistry,
  type UpstreamBreakerSnapshot,
  type UpstreamBreakerState,
  defaultUpstreamBreakerRegistry,
} from './breaker';
import { retryAfterFirstFailure } from '../common/retry-after-first-failure';
import { CallStop } from './call-stop';
import { assertValidTimeZone } from './dotnet-date';
import {
  type AspNetErrorDetails,
  UpstreamAbortedError,
  type UpstreamAttempt,
  UpstreamBodyTooLargeError,
  UpstreamBodyUnreadableError,
  UpstreamBreakerOpenError,
  UpstreamConnectionError,
  UpstreamError,
  UpstreamHttpStatusError,
  UpstreamTimeoutError,
  UpstreamTokenError,
  UpstreamUnexpectedError,
  attachHttpStatus,
} from './errors';
import { type IntegrationStartRequest, buildIntegrationStartRequest } from './integration-start.request';
import type { IntegrationKey, IntegrationStatus } from './integration-status';
import {
  assertSameIntegration,
  bodyExcerpt,
  parseAspNetError,
  parseIntegrationStatus,
} from './integration-status.parser';
import { ClientCredentialsTokenSource, type FetchedToken } from './token-source';
import {
  BodyDecodeSignal,
  BodyTooLargeSignal,
  type ExchangeProgress,
  type ExchangeResponse,
  createUpstreamDispatcher,
  sendExchange,
} from './http-exchange';

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
/** Path of the default client_credentials token endpoint under the base URL. */
export const DEFAULT_TOKEN_PATH = '/api/token/authorize';

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

/** Configuration of {@link UpstreamClient}. */
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

/** Per-call options of {@link UpstreamClient.integrationStart}. */
export interface IntegrationStartCallOptions {
  /**
   * Cancels the call (e.g. on shutdown); the call then rejects with UpstreamAbortedError. A {@link CallStop} shared by
   * many calls costs each call less than an AbortSignal, whose listeners are a list searched on every add and remove.
   */
  signal?: AbortSignal | CallStop;
}

const ENDPOINT_PATH = '/api/integration/IntegrationStatus/IntegrationStart';

/** Error codes meaning "the network or the peer failed", as opposed to a bad answer. */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTDOWN',
  'ETIMEDOUT',
  'EPIPE',
  'ECONNABORTED',
  'EADDRNOTAVAIL',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'ERR_SOCKET_CLOSED',
  'ERR_STREAM_PREMATURE_CLOSE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'EPROTO',
]);

/** HTTP statuses retried (with backoff); 429 and 503 honour `Retry-After`. */
const RETRYABLE_STATUSES = new Set([429, 502, 503, 504]);
const RETRY_AFTER_STATUSES = new Set([429, 503]);
/** Code of undici's error when the connect deadline passes. */
const CONNECT_TIMEOUT_CODE = 'UND_ERR_CONNECT_TIMEOUT';
/** Sent with every request, so that the upstream's operators can tell who calls. */
const USER_AGENT = 'tidemark';
/** Largest token endpoint answer read, bytes. */
const MAX_TOKEN_BODY_BYTES = 65_536;

type CallProgress = ExchangeProgress;

/** The reason a deadline stops a request with. */
class DeadlineReason {
  constructor(readonly timeoutMs: number) {}
}
/** The reason a call stops with when the caller's signal aborts. */
class CallerAbortReason {}

/** Why retrying stopped before `maxAttempts`, for the message. */
type GiveUp =
  | { kind: 'wait_past_deadline'; waitMs: number; remainingMs: number }
  | { kind: 'retry_after_past_deadline'; retryAfterMs: number; remainingMs: number };

/** State of one integrationStart call. */
interface Call {
  key: IntegrationKey;
  /** The caller's signal, if any. */
  external: AbortSignal | CallStop | undefined;
  request: IntegrationStartRequest | null;
  /** Aborted by the call deadline (reason DeadlineReason) or the caller (CallerAbortReason). */
  stop: CallStop;
  /** `performance.now()` by which everything must be over. */
  deadlineAt: number;
  attempts: UpstreamAttempt[];
  /** Attempts made by the retry policy (the re-send after a 401 refresh is not one). */
  tries: number;
  outcomeUnknownRetried: boolean;
  /** The last failed attempt had sent its request and got no complete answer. */
  lastSentWithoutAnswer: boolean;
  /** The error of the last failed attempt (the call may end with another: a deadline between attempts). */
  lastAttemptError: UpstreamError | null;
  /** A 401 already made the token be refreshed once in this call. */
  refreshedOn401: boolean;
  /** The wait before the next retry, set when a retry is decided. */
  nextDelayMs: number;
  /** Every allowed attempt was made. */
  exhausted: boolean;
  giveUp: GiveUp | null;
  /** An attempt is running (its own abort handling will end it promptly). */
  busy: boolean;
}

type Exchange = ExchangeResponse;
type ResponseHeaders = ExchangeResponse['headers'];

interface Target {
  url: string;
  hostPort: string;
  /** `http(s)://host:port` and the path (with query) of `url`. */
  origin: string;
  path: string;
}

/** What stops one exchange: the call's stop, and the attempt's own deadline. */
interface Stops {
  stop: CallStop;
  timeoutMs?: number;
  timeoutReason?: DeadlineReason;
}

/**
 * Calls IntegrationStart on the upstream and returns the parsed, identity-checked DTO.
 *
 * Every failure is an {@link UpstreamError} carrying `attempts` and `outcomeUnknownRetried`;
 * messages, errors and attempt records never contain the bearer token, the Basic password, URL
 * credentials, the client secret or an access token, and never carry the transport's error (whose
 * request holds the Authorization header) as `cause`.
 */
@Injectable()
export class UpstreamClient implements OnModuleDestroy {
  /** The upstream base URL without credentials and trailing slashes (the breaker's key). */
  readonly baseUrl: string;
  private readonly endpoint: string;
  /** `host:port` for messages. */
  private readonly hostPort: string;
  private readonly format: 'json' | 'xml';
  private readonly timeoutMs: number;
  private readonly attemptTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly retry: UpstreamRetryOptions;
  private readonly maxBodyBytes: number;
  private readonly defaultTimeZone: string;
  /** Static Authorization header (bearer, basic, URL userinfo); null for none and client_credentials. */
  private readonly authorization: string | null;
  private readonly tokens: ClientCredentialsTokenSource | null = null;
  private readonly breaker: UpstreamBreaker;
  private readonly random: () => number;
  /** Values to scrub from any message, longest first; access tokens are added as they arrive. */
  private secrets: string[];
  /** Keep-alive connections to the upstream (and the token endpoint), with the connect deadline. */
  private readonly dispatcher: Agent;
  private readonly endpointTarget: Target;

  /**
   * @param breakers where the breaker of `baseUrl` lives; `UpstreamModule` provides one per app,
   *   clients built by hand share {@link defaultUpstreamBreakerRegistry}.
   * @throws TypeError / RangeError on invalid options (a configuration error, raised at startup;
   *   the message never includes credentials).
   */
  constructor(
    @Inject(UPSTREAM_CLIENT_OPTIONS) options: UpstreamClientOptions,
    @Optional() @Inject(UpstreamBreakerRegistry) breakers?: UpstreamBreakerRegistry,
  ) {
    let url: URL;
    try {
      url = new URL(options.baseUrl);
    } catch {
      throw new TypeError('upstream baseUrl is not an absolute URL');
    }
    const rawUserInfo = [url.username, url.password];
    const urlUser = safeDecode(url.username);
    const urlPassword = safeDecode(url.password);
    url.username = '';
    url.password = '';
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TypeError(`upstream baseUrl must be http:// or https://, got ${url.protocol}`);
    }
    if (url.search !== '' || url.hash !== '') {
      throw new TypeError(`upstream baseUrl ${url.origin}${url.pathname} must not have a query string or fragment`);
    }
    this.baseUrl = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
    this.endpoint = `${this.baseUrl}${ENDPOINT_PATH}`;
    this.hostPort = hostPortOf(url);
    this.endpointTarget = targetOf(new URL(this.endpoint), this.hostPort);

    if (options.format !== 'json' && options.format !== 'xml') {
      throw new TypeError(`upstream format must be "json" or "xml", got ${JSON.stringify(String(options.format))}`);
    }
    this.format = options.format;
    this.timeoutMs = positiveMs(options.timeoutMs, 'timeoutMs');
    this.attemptTimeoutMs = Math.min(
      this.timeoutMs,
      positiveMs(options.attemptTimeoutMs ?? this.timeoutMs, 'attemptTimeoutMs'),
    );
    this.connectTimeoutMs = positiveMs(options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, 'connectTimeoutMs');
    this.dispatcher = createUpstreamDispatcher(this.connectTimeoutMs);
    const retrySettings = { ...DEFAULT_RETRY, ...definedOnly(options.retry ?? {}) };
    if (!Number.isSafeInteger(retrySettings.maxAttempts) || retrySettings.maxAttempts < 1) {
      throw new RangeError(
        `upstream retry.maxAttempts must be a positive integer, got ${String(retrySettings.maxAttempts)}`,
      );
    }
    for (const name of ['baseMs', 'maxMs'] as const) {
      if (!(Number.isFinite(retrySettings[name]) && retrySettings[name] >= 0)) {
        throw new RangeError(
          `upstream retry.${name} must be a non-negative number of milliseconds, got ${String(retrySettings[name])}`,
        );
      }
    }
    this.retry = retrySettings;
    const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes <= 0) {
      throw new RangeError(`upstream maxBodyBytes must be a positive integer, got ${String(maxBodyBytes)}`);
    }
    this.maxBodyBytes = maxBodyBytes;
    assertValidTimeZone(options.defaultTimeZone);
    this.defaultTimeZone = options.defaultTimeZone;
    this.random = options.random ?? Math.random;

    const secrets = [urlUser, urlPassword, ...rawUserInfo];
    const auth = options.auth ?? { kind: 'none' };
    if (auth.kind === 'bearer') {
      if (typeof auth.token !== 'string' || !/^[\x21-\x7e]+$/.test(auth.token)) {
        throw new TypeError('upstream bearer token must be non-empty visible ASCII (no spaces or line breaks)');
      }
      this.authorization = `Bearer ${auth.token}`;
      secrets.push(auth.token);
    } else if (auth.kind === 'basic') {
      this.authorization = basicAuthorization(auth.username, auth.password);
      secrets.push(auth.password, this.authorization.slice('Basic '.length));
    } else if (auth.kind === 'none') {
      // Userinfo in the URL is what curl and browsers send as Basic credentials; honour it, but
      // never in the URL itself (a transport error could show it) and never in messages.
      this.authorization = urlUser !== '' || urlPassword !== '' ? basicAuthorization(urlUser, urlPassword) : null;
      if (this.authorization !== null) secrets.push(this.authorization.slice('Basic '.length));
    } else if (auth.kind === 'client_credentials') {
      this.authorization = null;
      const tokenRequest = this.tokenRequestFrom(auth);
      secrets.push(
        auth.clientSecret,
        encodeURIComponent(auth.clientSecret),
        JSON.stringify(auth.clientSecret).slice(1, -1),
      );
      this.tokens = new ClientCredentialsTokenSource(
        (deadlineAt) => this.fetchToken(tokenRequest, deadlineAt),
        options.now ?? Date.now,
      );
    } else {
      const kind = JSON.stringify(String((auth as { kind?: unknown }).kind)).slice(0, 40);
      throw new TypeError(
        `upstream auth.kind ${kind} is not supported (supported: "none", "bearer", "basic", "client_credentials")`,
      );
    }
    // Values shorter than 4 characters are not scrubbed: replacing them everywhere would mangle
    // ordinary words in messages. Such a value is not a credential worth the name anyway.
    this.secrets = [];
    this.addSecrets(secrets);

    this.breaker = (breakers ?? defaultUpstreamBreakerRegistry).get(this.baseUrl, {
      ...DEFAULT_BREAKER,
      ...definedOnly(options.breaker ?? {}),
    });
  }

  /** State of this upstream's circuit breaker, for health and metrics. */
  breakerState(): UpstreamBreakerState {
    return this.breaker.state();
  }

  /** State, counts and settings of this upstream's circuit breaker. */
  breakerSnapshot(): UpstreamBreakerSnapshot {
    return this.breaker.snapshot();
  }

  /**
   * POSTs IntegrationStart for `key`, parses the answer and checks it is about `key`, retrying
   * transient failures within the call's deadline.
   *
   * Retried (up to `retry.maxAttempts` attempts, full-jitter exponential backoff): connection
   * failures (incl. the connect deadline), an attempt's own timeout (see `attemptTimeoutMs`), HTTP
   * 502, 503, 504 and 429, and the same statuses from the token endpoint. A `Retry-After` (seconds
   * or HTTP-date) on 429 or 503 replaces the backoff. A retry whose wait would leave less than
   * min(1 s, timeoutMs / 10) of the deadline is not made: the call fails with the last error.
   * Nothing else is retried. On a 401 with client_credentials the token is refreshed and the
   * request sent once more (once per call; this re-send does not use up a retry).
   *
   * The whole call, body included, is bounded by `timeoutMs` (a timer that stops the request, since
   * a socket timeout does not cover a body that trickles in). Redirects are not followed, environment
   * proxies are not used.
   *
   * @returns `{ status, httpStatus, durationMs, contentType, attempts, outcomeUnknownRetried }`.
   * @throws UpstreamBreakerOpenError (`breaker_open`) the breaker is open; no request was made.
   * @throws UpstreamTimeoutError (`timeout`) the deadline passed; says whether the request had been sent.
   * @throws UpstreamAbortedError (`aborted`) `options.signal` was aborted.
   * @throws UpstreamConnectionError (`connection`) refused, reset, DNS, TLS failures, connect deadline (host:port only).
   * @throws UpstreamBodyTooLargeError (`body_too_large`) more than `maxBodyBytes`.
   * @throws UpstreamHttpStatusError (`http_status`) non-2xx, with the ASP.NET error's Message,
   *   ExceptionType and ExceptionMessage when the body is one, else a 200-char excerpt.
   * @throws UpstreamTokenError (`token`) the token endpoint refused or answered no usable token.
   * @throws UpstreamBodyUnreadableError / UpstreamNotDtoError from the parser (with `httpStatus`).
   * @throws UpstreamIdentityMismatchError (`identity_mismatch`) the DTO is about another integration.
   * @throws UpstreamRequestError (`invalid_request`) the key cannot be sent (see the request builder).
   * @throws UpstreamUnexpectedError (`unexpected`) anything else.
   * After several attempts the message summarises them, e.g. `upstream 127.0.0.1:8080 answered
   * 503 Service Unavailable on all 4 attempts (last: Message: An error has occurred.)`; the error's
   * class, `code` and `httpStatus` are those of the last attempt.
   */
  async integrationStart(
    key: IntegrationKey,
    options: IntegrationStartCallOptions = {},
  ): Promise<IntegrationStartResult> {
    const started = performance.now();
    const external = options.signal;
    const stop = new CallStop();
    const call: Call = {
      key,
      external,
      request: null,
      stop,
      deadlineAt: started + this.timeoutMs,
      attempts: [],
      tries: 0,
      outcomeUnknownRetried: false,
      lastSentWithoutAnswer: false,
      lastAttemptError: null,
      refreshedOn401: false,
      nextDelayMs: 0,
      exhausted: false,
      giveUp: null,
      busy: false,
    };
    const timer = setTimeout(() => stop.abort(new DeadlineReason(this.timeoutMs)), this.timeoutMs);
    const onExternalAbort = () => stop.abort(new CallerAbortReason());
    const stopListening = listenForAbort(external, onExternalAbort);

    try {
      if (external?.aborted) throw new UpstreamAbortedError(this.endpoint, false);
      call.request = buildIntegrationStartRequest(this.format, key);
      let work: Promise<Omit<IntegrationStartResult, 'durationMs' | 'attempts' | 'outcomeUnknownRetried'>>;
      try {
        work = this.breaker.execute(() => this.withRetries(call));
      } catch (error) {
        work = Promise.reject(error);
      }
      let result: Awaited<typeof work>;
      try {
        result = await this.untilStopped(work, call);
      } catch (error) {
        if (isBrokenCircuitError(error)) {
          throw new UpstreamBreakerOpenError({
            baseUrl: this.baseUrl,
            hostPort: this.hostPort,
            threshold: this.breaker.settings.threshold,
            halfOpenAt: this.breaker.halfOpenAt(),
            lastFailure: this.breaker.lastFailureMessage(),
          });
        }
        throw error;
      }
      return {
        ...result,
        durationMs: Math.round((performance.now() - started) * 10) / 10,
        attempts: call.attempts,
        outcomeUnknownRetried: call.outcomeUnknownRetried,
      };
    } catch (error) {
      throw this.finalError(error, call);
    } finally {
      clearTimeout(timer);
      stopListening();
    }
  }

  /** Closes the keep-alive sockets. */
  async onModuleDestroy(): Promise<void> {
    await this.dispatcher.destroy();
  }

  // ---- retries -----------------------------------------------------------------------------

  /**
   * One run: cockatiel's retry policy around {@link tryOnce}, deciding with {@link planRetry}; built only when the
   * first attempt fails (see retryAfterFirstFailure).
   */
  private async withRetries(
    call: Call,
  ): Promise<Omit<IntegrationStartResult, 'durationMs' | 'attempts' | 'outcomeUnknownRetried'>> {
    try {
      return await retryAfterFirstFailure(
        () => this.tryOnce(call),
        () =>
          retry(
            handleWhen((error) => this.planRetry(error, call)),
            { maxAttempts: this.retry.maxAttempts - 1, backoff: new DelegateBackoff(() => call.nextDelayMs) },
            // The wait itself cannot be cancelled; untilStopped() answers a cancelled caller meanwhile,
            // and an unref'd timer does not hold the process open.
          ).dangerouslyUnref(),
        () => call.stop.signal,
      );
    } catch (error) {
      // Before the breaker sees it: a run that made no request does not count (countsForBreaker).
      if (error instanceof UpstreamError) error.attempts = call.attempts;
      throw error;
    }
  }

  /** Whether to retry after `error`; sets the wait. Called once per failed attempt. */
  private planRetry(error: Error, call: Call): boolean {
    if (call.stop.aborted || !(error instanceof UpstreamError) || !isRetryable(error)) return false;
    if (call.tries >= this.retry.maxAttempts) {
      call.exhausted = true;
      return false;
    }
    const remainingMs = call.deadlineAt - performance.now();
    // The deadline itself has passed (e.g. a token request bounded by it timed out a hair before
    // the call's own timer): nothing to give up, the call is over.
    if (remainingMs <= 0) return false;
    // Enough time must be left for the next attempt to have a fair chance.
    const minAttemptMs = Math.min(1_000, this.timeoutMs / 10);
    const retryAfterMs =
      error.httpStatus !== undefined && RETRY_AFTER_STATUSES.has(error.httpStatus) ? retryAfterOf(error) : undefined;
    let waitMs: number;
    if (retryAfterMs !== undefined) {
      if (retryAfterMs + minAttemptMs > remainingMs) {
        call.giveUp = {
          kind: 'retry_after_past_deadline',
          retryAfterMs,
          remainingMs: Math.max(0, Math.round(remainingMs)),
        };
        return false;
      }
      waitMs = retryAfterMs;
    } else {
      const capMs = Math.min(this.retry.maxMs, this.retry.baseMs * 2 ** (call.tries - 1));
      waitMs = Math.floor(this.random() * capMs);
      if (waitMs + minAttemptMs > remainingMs) {
        call.giveUp = { kind: 'wait_past_deadline', waitMs, remainingMs: Math.max(0, Math.round(remainingMs)) };
        return false;
      }
    }
    if (call.lastSentWithoutAnswer) call.outcomeUnknownRetried = true;
    call.nextDelayMs = waitMs;
    return true;
  }

  /**
   * Settles with `work`, or, when the call is cancelled or its deadline passes while no attempt is
   * running (waiting for a retry, or for a half-open breaker's trial), at once with that reason.
   * While an attempt runs, its own abort handling ends it promptly with a recorded attempt.
   */
  private untilStopped<T>(work: Promise<T>, call: Call): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const stopListening = call.stop.onAbort((reason) => {
        if (!call.busy) reject(this.stopError(reason, this.endpoint, { requestSent: false, responseStarted: false }));
      });
      work.then(
        (value) => {
          stopListening();
          resolve(value);
        },
        (error: unknown) => {
          stopListening();
          reject(error);
        },
      );
    });
  }

  /** The error for a request stopped for `reason` (a deadline or the caller). */
  private stopError(reason: unknown, target: string, progress: CallProgress): UpstreamError {
    if (reason instanceof DeadlineReason) {
      return new UpstreamTimeoutError({ timeoutMs: reason.timeoutMs, target, ...progress });
    }
    return new UpstreamAbortedError(target, progress.requestSent);
  }

  // ---- one attempt -------------------------------------------------------------------------

  /** One attempt of the retry policy: one request, plus one re-send after a 401 token refresh. */
  private async tryOnce(
    call: Call,
  ): Promise<Omit<IntegrationStartResult, 'durationMs' | 'attempts' | 'outcomeUnknownRetried'>> {
    call.tries += 1;
    for (;;) {
      if (call.stop.aborted)
        throw this.stopError(call.stop.reason, this.endpoint, { requestSent: false, responseStarted: false });
      const outcome = await this.attempt(call);
      if (outcome !== 'refreshed') return outcome;
    }
  }

  /**
   * Sends the request once and records the attempt.
   * @returns the result, or `'refreshed'` when a 401 made the token be dropped and the request
   *   should be sent once more.
   */
  private async attempt(
    call: Call,
  ): Promise<Omit<IntegrationStartResult, 'durationMs' | 'attempts' | 'outcomeUnknownRetried'> | 'refreshed'> {
    const request = call.request!;
    const startedAt = new Date().toISOString();
    const t0 = performance.now();
    const record = (
      fields: Pick<UpstreamAttempt, 'httpStatus' | 'errorCode' | 'error'> & { retryAfterMs?: number },
    ) => {
      call.attempts.push({
        attempt: call.attempts.length + 1,
        startedAt,
        durationMs: Math.round((performance.now() - t0) * 10) / 10,
        ...fields,
      });
    };
    const remainingMs = call.deadlineAt - t0;
    // The attempt's own deadline, when it comes before the call's (the call's stop covers the rest).
    const stops: Stops =
      this.attemptTimeoutMs < remainingMs
        ? {
            stop: call.stop,
            timeoutMs: this.attemptTimeoutMs,
            timeoutReason: new DeadlineReason(this.attemptTimeoutMs),
          }
        : { stop: call.stop };
    const attemptDeadlineAt = Math.min(call.deadlineAt, t0 + this.attemptTimeoutMs);
    const progress: CallProgress = { requestSent: false, responseStarted: false };
    call.busy = true;
    call.lastSentWithoutAnswer = false;
    let httpStatus: number | null = null;
    try {
      let token: string | null = null;
      if (this.tokens !== null) token = await this.accessToken(call, stops, attemptDeadlineAt, progress);
      const authorization = token !== null ? `Bearer ${token}` : this.authorization;
      const response = await this.exchange(
        this.endpointTarget,
        {
          body: request.body,
          headers:
            authorization === null
              ? { 'content-type': request.contentType, accept: request.accept, 'user-agent': USER_AGENT }
              : {
                  'content-type': request.contentType,
                  accept: request.accept,
                  'user-agent': USER_AGENT,
                  authorization,
                },
          maxBodyBytes: this.maxBodyBytes,
        },
        stops,
        progress,
      );
      httpStatus = response.status;
      const contentTypeHeader = response.headers['content-type'];
      const contentType = typeof contentTypeHeader === 'string' ? contentTypeHeader : null;
      if (httpStatus === 401 && token !== null && !call.refreshedOn401) {
        call.refreshedOn401 = true;
        this.tokens!.invalidate(token);
        const error = this.httpStatusError(httpStatus, response.body, contentType, response.headers);
        record({
          httpStatus,
          errorCode: error.code,
          error: `${this.scrub(error.message)} (token refreshed, sending again)`,
        });
        return 'refreshed';
      }
      if (httpStatus < 200 || httpStatus > 299) {
        throw this.httpStatusError(httpStatus, response.body, contentType, response.headers);
      }
      let status: IntegrationStatus;
      try {
        status = parseIntegrationStatus(response.body, contentType ?? undefined, {
          defaultTimeZone: this.defaultTimeZone,
        });
        assertSameIntegration(status, call.key);
      } catch (error) {
        throw error instanceof UpstreamError ? attachHttpStatus(error, httpStatus) : error;
      }
      record({ httpStatus, errorCode: null, error: null });
      return { status, httpStatus, contentType };
    } catch (raw) {
      let error = this.finalError(raw, null);
      // A body over the limit is refused after its status line arrived, like a body that does not parse.
      if (error instanceof UpstreamBodyTooLargeError && progress.status !== undefined)
        error = attachHttpStatus(error, progress.status);
      // The status line seen, also when the body then broke off or timed out.
      const recordedStatus = error.httpStatus ?? httpStatus ?? progress.status ?? null;
      const retryAfterMs = retryAfterOf(error);
      record({
        httpStatus: recordedStatus,
        errorCode: error.code,
        error: error.message,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      });
      call.lastSentWithoutAnswer = progress.requestSent && (error.code === 'timeout' || error.code === 'connection');
      call.lastAttemptError = error;
      throw error;
    } finally {
      call.busy = false;
    }
  }

  /** The client_credentials access token for an attempt, within the attempt's deadline or the caller's cancel. */
  private async accessToken(
    call: Call,
    stops: Stops,
    attemptDeadlineAt: number,
    progress: CallProgress,
  ): Promise<string> {
    const attemptController = new AbortController();
    const timer =
      stops.timeoutMs === undefined
        ? undefined
        : setTimeout(() => attemptController.abort(stops.timeoutReason), stops.timeoutMs);
    const signal = AbortSignal.any([call.stop.signal, attemptController.signal]);
    try {
      const cancel = call.external instanceof CallStop ? call.external.signal : call.external;
      const token = await this.tokens!.get({ signal, cancel, deadlineAt: attemptDeadlineAt });
      this.addSecrets([token]);
      return token;
    } catch (error) {
      // Every call that joined the same token request gets the same error object; each call writes its own attempts
      // and summary onto the error it ends with, so each gets a copy of its own.
      throw error instanceof UpstreamError
        ? copyOfError(error)
        : this.stopError(signal.reason, this.endpoint, progress);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * One HTTP POST. Resolves with any status; rejects with an UpstreamError for transport failures, the caller or
   * a deadline stopping it (`stops`), and bodies over `maxBodyBytes`.
   */
  private async exchange(
    target: Target,
    request: { body: string; headers: Record<string, string>; maxBodyBytes: number },
    stops: Stops,
    progress: CallProgress,
  ): Promise<Exchange> {
    if (stops.stop.aborted) throw this.stopError(stops.stop.reason, target.url, progress);
    const pending = sendExchange(
      this.dispatcher,
      {
        origin: target.origin,
        path: target.path,
        method: 'POST',
        headers: request.headers,
        body: request.body,
        maxBodyBytes: request.maxBodyBytes,
      },
      progress,
    );
    const stopListening = stops.stop.onAbort((reason) => pending.abort(reason));
    const timer =
      stops.timeoutMs === undefined ? undefined : setTimeout(() => pending.abort(stops.timeoutReason), stops.timeoutMs);
    try {
      return await pending.response;
    } catch (error) {
      if (error instanceof DeadlineReason || error instanceof CallerAbortReason)
        throw this.stopError(error, target.url, progress);
      throw this.transportError(error, target.hostPort, request.maxBodyBytes);
    } finally {
      clearTimeout(timer);
      stopListening();
    }
  }

  // ---- client_credentials ------------------------------------------------------------------

  private tokenRequestFrom(auth: Extract<UpstreamAuth, { kind: 'client_credentials' }>): {
    target: Target;
    body: string;
    contentType: string;
  } {
    if (typeof auth.clientId !== 'string' || auth.clientId === '')
      throw new TypeError('upstream client_credentials needs a clientId');
    if (typeof auth.clientSecret !== 'string' || auth.clientSecret === '') {
      throw new TypeError('upstream client_credentials needs a clientSecret');
    }
    const format = auth.requestFormat ?? 'json';
    if (format !== 'json' && format !== 'form') {
      throw new TypeError(
        `upstream client_credentials requestFormat must be "json" or "form", got ${JSON.stringify(String(format)).slice(0, 40)}`,
      );
    }
    let target: Target;
    if (auth.tokenUrl === undefined || auth.tokenUrl === null || auth.tokenUrl === '') {
      target = targetOf(new URL(`${this.baseUrl}${DEFAULT_TOKEN_PATH}`), this.hostPort);
    } else {
      let url: URL;
      try {
        url = new URL(auth.tokenUrl);
      } catch {
        throw new TypeError('upstream client_credentials tokenUrl is not an absolute URL');
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new TypeError(`upstream client_credentials tokenUrl must be http:// or https://, got ${url.protocol}`);
      }
      if (url.username !== '' || url.password !== '') {
        throw new TypeError('upstream client_credentials tokenUrl must not contain credentials');
      }
      target = targetOf(url, hostPortOf(url));
    }
    // grant_type is what RFC 6749 (4.4.2) requires of an OAuth2 server; endpoints that only read
    // client_id/client_secret/scope ignore it.
    const fields: Array<[string, string]> = [
      ['grant_type', 'client_credentials'],
      ['client_id', auth.clientId],
      ['client_secret', auth.clientSecret],
    ];
    if (typeof auth.scope === 'string' && auth.scope !== '') fields.push(['scope', auth.scope]);
    return format === 'json'
      ? { target, body: JSON.stringify(Object.fromEntries(fields)), contentType: 'application/json; charset=utf-8' }
      : { target, body: new URLSearchParams(fields).toString(), contentType: 'application/x-www-form-urlencoded' };
  }

  /** One token request, bounded by `deadlineAt` (the deadline of the attempt that started it). */
  private async fetchToken(
    request: { target: Target; body: string; contentType: string },
    deadlineAt: number,
  ): Promise<FetchedToken> {
    const stop = new CallStop();
    const remaining = Math.max(0, deadlineAt - performance.now());
    const timer = setTimeout(() => stop.abort(new DeadlineReason(Math.round(remaining))), remaining);
    try {
      const response = await this.exchange(
        request.target,
        {
          body: request.body,
          headers: { 'content-type': request.contentType, accept: 'application/json', 'user-agent': USER_AGENT },
          maxBodyBytes: MAX_TOKEN_BODY_BYTES,
        },
        { stop },
        { requestSent: false, responseStarted: false },
      );
      const where = `token endpoint ${request.target.hostPort}`;
      const reason = nodeHttp.STATUS_CODES[response.status];
      const head = `${where} answered HTTP ${response.status}${reason ? ` ${reason}` : ''}`;
      let json: unknown = undefined;
      try {
        json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(response.body));
      } catch {
        json = undefined;
      }
      const object =
        typeof json === 'object' && json !== null && !Array.isArray(json) ? (json as Record<string, unknown>) : null;
      if (response.status < 200 || response.status > 299) {
        const oauthError = typeof object?.error === 'string' ? bodyExcerpt(this.scrub(object.error), 100) : undefined;
        const description =
          typeof object?.error_description === 'string'
            ? bodyExcerpt(this.scrub(object.error_description), 200)
            : undefined;
        const aspNet = object === null ? null : parseAspNetError(response.body, 'application/json');
        const detail =
          oauthError !== undefined
            ? `: ${oauthError}${description ? ` (${description})` : ''}`
            : aspNet?.message !== undefined
              ? `: Message: ${bodyExcerpt(this.scrub(aspNet.message), 200)}`
              : response.body.length === 0
                ? ' with an empty body'
                : `; body: ${bodyExcerpt(this.scrub(new TextDecoder('utf-8', { fatal: false }).decode(response.body.subarray(0, 4096))), 200)}`;
        const retryAfterMs = parseRetryAfter(headerText(response.headers['retry-after']), Date.now());
        throw new UpstreamTokenError(`${head}${detail}`, {
          httpStatus: response.status,
          ...(oauthError === undefined ? {} : { oauthError }),
          ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
        });
      }
      const rawToken = object?.access_token;
      if (typeof rawToken !== 'string') {
        throw new UpstreamTokenError(
          `${head} without an access_token${object === null ? ' (the body is not a JSON object)' : ''}`,
          { httpStatus: response.status },
        );
      }
      const value = rawToken.replace(/^\s*bearer\s+/i, '').trim();
      this.addSecrets([rawToken, value]);
      if (!/^[\x21-\x7e]+$/.test(value)) {
        throw new UpstreamTokenError(`${head} with an access_token that is empty or not visible ASCII`, {
          httpStatus: response.status,
        });
      }
      const expiresIn = object!.expires_in;
      const seconds =
        typeof expiresIn === 'number'
          ? expiresIn
          : typeof expiresIn === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(expiresIn)
            ? Number(expiresIn)
            : NaN;
      return { value, expiresInSeconds: Number.isFinite(seconds) && seconds >= 0 ? seconds : null };
    } catch (error) {
      throw this.finalError(error, null);
    } finally {
      clearTimeout(timer);
    }
  }

  // ---- errors ------------------------------------------------------------------------------

  private transportError(error: unknown, hostPort: string, maxBodyBytes: number): UpstreamError {
    if (error instanceof UpstreamError) return error;
    if (error instanceof BodyTooLargeSignal) return new UpstreamBodyTooLargeError(maxBodyBytes);
    if (error instanceof BodyDecodeSignal) {
      return new UpstreamBodyUnreadableError(`upstream response from ${hostPort} could not be decoded (${error.code})`);
    }
    const e = (error ?? {}) as { code?: unknown; message?: unknown; cause?: { code?: unknown } };
    const message = typeof e.message === 'string' ? e.message : '';
    const ownCode = typeof e.code === 'string' ? e.code : undefined;
    // undici wraps the socket's own error (ECONNRESET, ...) as the cause of its SocketError.
    const causeCode = typeof e.cause?.code === 'string' ? e.cause.code : undefined;
    if (ownCode === CONNECT_TIMEOUT_CODE) {
      return new UpstreamConnectionError(
        hostPort,
        'ETIMEDOUT',
        `no connection within the connect timeout of ${this.connectTimeoutMs} ms`,
      );
    }
    const code = ownCode === 'UND_ERR_SOCKET' ? (causeCode ?? 'ECONNRESET') : (ownCode ?? causeCode);
    if (ownCode === 'UND_ERR_SOCKET' || ownCode === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') {
      return new UpstreamConnectionError(
        hostPort,
        code ?? 'ECONNRESET',
        'the connection closed before the answer was complete',
      );
    }
    if (code !== undefined && CONNECTION_CODES.has(code)) {
      return new UpstreamConnectionError(hostPort, code);
    }
    if (code !== undefined && code.startsWith('HPE_')) {
      return new UpstreamConnectionError(hostPort, code, 'the upstream sent a malformed HTTP response');
    }
    // The transport's error is deliberately not the cause: its request holds the Authorization header.
    return new UpstreamUnexpectedError(
      `call to upstream ${hostPort} failed${code === undefined ? '' : ` (${code})`}: ${message.slice(0, 200) || 'unknown error'}`,
    );
  }

  private httpStatusError(
    httpStatus: number,
    body: Buffer,
    contentType: string | null,
    headers: ResponseHeaders,
  ): UpstreamHttpStatusError {
    const reason = nodeHttp.STATUS_CODES[httpStatus];
    const head = `upstream answered HTTP ${httpStatus}${reason ? ` ${reason}` : ''}`;
    const retryAfterMs = parseRetryAfter(headerText(headers['retry-after']), Date.now());
    const extra = retryAfterMs === undefined ? {} : { retryAfterMs };
    // Secrets are scrubbed from the full texts before they are cut, so a cut can never leave
    // part of a secret behind; the error's fields get the scrubbed texts too, not just its message.
    const parsed = parseAspNetError(body, contentType ?? undefined);
    if (parsed !== null) {
      const aspNet: AspNetErrorDetails = {};
      for (const [name, value] of Object.entries(parsed) as Array<[keyof AspNetErrorDetails, string]>) {
        aspNet[name] = bodyExcerpt(this.scrub(value), 300);
      }
      const parts = [
        aspNet.message !== undefined ? `Message: ${aspNet.message}` : null,
        aspNet.messageDetail !== undefined ? `MessageDetail: ${aspNet.messageDetail}` : null,
        aspNet.exceptionType !== undefined ? `ExceptionType: ${aspNet.exceptionType}` : null,
        aspNet.exceptionMessage !== undefined ? `ExceptionMessage: ${aspNet.exceptionMessage}` : null,
      ].filter((p): p is string => p !== null);
      return new UpstreamHttpStatusError(`${head}: ${parts.join('; ')}`, { httpStatus, aspNet, ...extra });
    }
    const text = new TextDecoder('utf-8', { fatal: false }).decode(body.subarray(0, 65_536));
    const excerpt = bodyExcerpt(this.scrub(text), 200);
    return new UpstreamHttpStatusError(excerpt === '' ? `${head} with an empty body` : `${head}; body: ${excerpt}`, {
      httpStatus,
      bodyExcerpt: excerpt,
      ...extra,
    });
  }

  /**
   * Makes sure what leaves the client is an UpstreamError whose message holds no secret; with a
   * `call`, attaches its attempts and summarises them in the message when there were several.
   */
  private finalError(error: unknown, call: Call | null): UpstreamError {
    let upstreamError: UpstreamError;
    if (error instanceof UpstreamError) upstreamError = error;
    else if (error instanceof DeadlineReason || error instanceof CallerAbortReason) {
      // A raw stop reason (the call stopped before a request started).
      upstreamError = this.stopError(error, this.endpoint, { requestSent: false, responseStarted: false });
    } else {
      upstreamError = new UpstreamUnexpectedError(
        `upstream call failed unexpectedly: ${error instanceof Error ? error.message : String(error)}`,
        // Only errors of our own code get here (transport errors are mapped above), so the cause holds no headers.
        { cause: error },
      );
    }
    if (call !== null) {
      const summary = this.summary(upstreamError, call);
      if (summary !== null) upstreamError.message = summary;
      upstreamError.attempts = call.attempts;
      upstreamError.outcomeUnknownRetried = call.outcomeUnknownRetried;
    }
    const scrubbed = this.scrub(upstreamError.message);
    if (scrubbed !== upstreamError.message) upstreamError.message = scrubbed;
    return upstreamError;
  }

  /** The message of a call that failed after several attempts or gave up retrying; null to keep the error's own. */
  private summary(error: UpstreamError, call: Call): string | null {
    const failed = call.attempts;
    if (error.code === 'breaker_open' || failed.length === 0) return null;
    // The error may have ended the call without an attempt of its own (deadline during a wait).
    const lastIsError = error === call.lastAttemptError;
    if (failed.length === 1 && call.giveUp === null && lastIsError) return null;
    const n = failed.length;
    const last = failed[n - 1];
    const statuses = failed.map((a) => (a.errorCode === 'http_status' ? a.httpStatus : null));
    const sameStatus = statuses.every((s) => s !== null && s === statuses[0]) ? statuses[0]! : null;
    const all = call.exhausted ? 'all ' : '';
    const plural = n === 1 ? 'attempt' : 'attempts';
    const described = failed.map(describeAttempt);
    let text =
      sameStatus !== null
        ? `upstream ${this.hostPort} answered ${statusText(sameStatus)} on ${all}${n} ${plural}`
        : described.every((d) => d === described[0])
          ? `upstream ${this.hostPort} failed on ${all}${n} ${plural}: ${described[0]}`
          : `upstream ${this.hostPort} failed on ${all}${n} ${plural} (${described.join(', ')})`;
    if (call.giveUp?.kind === 'retry_after_past_deadline') {
      text += `; gave up: Retry-After asked for ${call.giveUp.retryAfterMs} ms but only ${call.giveUp.remainingMs} ms of the ${this.timeoutMs} ms deadline remained`;
    } else if (call.giveUp?.kind === 'wait_past_deadline') {
      text += `; gave up: the next wait of ${call.giveUp.waitMs} ms would leave too little of the ${this.timeoutMs} ms deadline (${call.giveUp.remainingMs} ms remained)`;
    } else if (!lastIsError) {
      text += `; then ${error.code === 'timeout' ? `the ${this.timeoutMs} ms deadline passed` : 'the call was cancelled'} before the next attempt`;
    } else if (!call.exhausted && !isRetryable(error) && !(error.httpStatus === 401 && call.refreshedOn401)) {
      text += '; the last failure is not retried';
    } else if (error.httpStatus === 401 && call.refreshedOn401) {
      text += '; a freshly requested token was refused too';
    }
    const detail = lastIsError ? lastDetail(error) : (last.error ?? this.scrub(error.message));
    return `${text} (last: ${detail})`;
  }

  private addSecrets(values: string[]): void {
    const fresh = values.filter((s) => typeof s === 'string' && s.length >= 4 && !this.secrets.includes(s));
    if (fresh.length === 0) return;
    this.secrets = [...this.secrets, ...new Set(fresh)].sort((a, b) => b.length - a.length);
  }

  private scrub(text: string): string {
    let out = text;
    for (const secret of this.secrets) out = out.split(secret).join('[redacted]');
    return out;
  }
}

/** Whether the retry policy may retry after `error` (deadline permitting). */
function isRetryable(error: UpstreamError): boolean {
  switch (error.code) {
    case 'connection':
    case 'timeout':
      return true;
    case 'http_status':
    case 'token':
      return error.httpStatus !== undefined && RETRYABLE_STATUSES.has(error.httpStatus);
    default:
      return false;
  }
}

function retryAfterOf(error: UpstreamError): number | undefined {
  return error instanceof UpstreamHttpStatusError || error instanceof UpstreamTokenError
    ? error.retryAfterMs
    : undefined;
}

/**
 * `Retry-After` as a wait in ms: delay-seconds (`120`) or an HTTP-date (IMF-fixdate, RFC 850 or
 * asctime; a date in the past means 0). Undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d{1,10}$/.test(text)) return Number(text) * 1000;
  const imf = /^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(text);
  const rfc850 = /^[A-Za-z]{6,9}, \d{2}-[A-Za-z]{3}-\d{2} \d{2}:\d{2}:\d{2} GMT$/.test(text);
  const asctime = /^[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/.test(text);
  if (!imf && !rfc850 && !asctime) return undefined;
  const at = Date.parse(asctime ? `${text} GMT` : text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

function headerText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return undefined;
}

function statusText(status: number): string {
  const reason = nodeHttp.STATUS_CODES[status];
  return `${status}${reason ? ` ${reason}` : ''}`;
}

/** A few words about one attempt, for a summary message. */
function describeAttempt(attempt: UpstreamAttempt): string {
  if (attempt.errorCode === 'http_status' && attempt.httpStatus !== null) return statusText(attempt.httpStatus);
  if (attempt.errorCode === 'connection') {
    const code = /failed: ([A-Z0-9_]+)/.exec(attempt.error ?? '')?.[1];
    return code === undefined ? 'connection failed' : `connection ${code}`;
  }
  if (attempt.errorCode === 'token' && attempt.httpStatus !== null)
    return `token endpoint ${statusText(attempt.httpStatus)}`;
  return attempt.errorCode ?? 'ok';
}

/** What the last error said beyond its status line. */
function lastDetail(error: UpstreamError): string {
  if (error.code !== 'http_status' || error.httpStatus === undefined) return error.message;
  const head = `upstream answered HTTP ${statusText(error.httpStatus)}`;
  if (!error.message.startsWith(head)) return error.message;
  const rest = error.message.slice(head.length);
  if (rest === ' with an empty body') return 'empty body';
  return rest.replace(/^[:;] /, '');
}

function targetOf(url: URL, hostPort: string): Target {
  return { url: url.href, hostPort, origin: url.origin, path: `${url.pathname}${url.search}` };
}

function hostPortOf(url: URL): string {
  return `${url.hostname}:${url.port || (url.protocol === 'https:' ? '443' : '80')}`;
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

function basicAuthorization(username: string, password: string): string {
  if (typeof username !== 'string' || typeof password !== 'string') {
    throw new TypeError('upstream basic auth needs a username and a password');
  }
  if (username.includes(':')) throw new TypeError('upstream basic auth username must not contain ":" (RFC 7617)');
  if (/[\u0000-\u001f\u007f]/.test(username + password)) {
    throw new TypeError('upstream basic auth username and password must not contain control characters');
  }
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

function safeDecode(component: string): string {
  try {
    return decodeURIComponent(component);
  } catch {
    return component;
  }
}

/** A shallow copy of `error`: same class, message, stack and fields, a different object. */
function copyOfError<E extends Error>(error: E): E {
  return Object.create(Object.getPrototypeOf(error) as object, Object.getOwnPropertyDescriptors(error)) as E;
}

/** Calls `onAbort` once when `external` aborts; returns the function that stops listening. */
function listenForAbort(external: AbortSignal | CallStop | undefined, onAbort: () => void): () => void {
  if (external === undefined) return noop;
  if (external instanceof CallStop) return external.onAbort(onAbort);
  external.addEventListener('abort', onAbort, { once: true });
  return () => external.removeEventListener('abort', onAbort);
}

function noop(): void {}

/**
 * The only code that calls the upstream: `POST api/integration/IntegrationStatus/IntegrationStart`, with retries,
 * a circuit breaker per upstream base URL and the client_credentials token flow, over `@nestjs/axios`.
 */
import { performance } from 'node:perf_hooks';
import { HttpService } from '@nestjs/axios';
import { Inject, Injectable, type OnModuleDestroy, Optional } from '@nestjs/common';
import { isBrokenCircuitError } from 'cockatiel';
import { AccessTokens, credentialsOf } from './auth';
import {
  type UpstreamBreaker,
  UpstreamBreakerRegistry,
  type UpstreamBreakerSnapshot,
  type UpstreamBreakerState,
  defaultUpstreamBreakerRegistry,
} from './breaker';
import { CallStop, listenForAbort } from './call-stop';
import { type CallRecord, Redactor, callSummary, headerText, httpStatusError, retryAfterOf } from './error-text';
import {
  UpstreamAbortedError,
  type UpstreamAttempt,
  UpstreamBodyTooLargeError,
  UpstreamBreakerOpenError,
  UpstreamError,
  type UpstreamHttpStatusError,
  UpstreamUnexpectedError,
  attachHttpStatus,
} from './errors';
import { type IntegrationStartRequest, buildIntegrationStartRequest } from './integration-start.request';
import type { IntegrationKey, IntegrationStatus } from './integration-status';
import { assertSameIntegration, parseIntegrationStatus } from './integration-status.parser';
import { RetryPlan, type RetryState, isRetryable, parseRetryAfter } from './retry-plan';
import {
  CallerAbortReason,
  DeadlineReason,
  type ExchangeProgress,
  type ExchangeResponse,
  type ExchangeStops,
  USER_AGENT,
  UpstreamTransport,
  createUpstreamHttpService,
  stopError,
} from './transport';
import { destroyUpstreamAgents } from './upstream-agents';
import {
  type IntegrationStartCallOptions,
  type IntegrationStartResult,
  type ResolvedUpstreamOptions,
  UPSTREAM_CLIENT_OPTIONS,
  type UpstreamClientOptions,
  resolveUpstreamOptions,
} from './upstream-options';

export type { UpstreamAuth, UpstreamClientOptions } from './upstream-options';

type CallResult = Omit<IntegrationStartResult, 'durationMs' | 'attempts' | 'outcomeUnknownRetried'>;

/** State of one integrationStart call. */
interface Call extends RetryState, CallRecord {
  key: IntegrationKey;
  /** The caller's signal, if any. */
  external: AbortSignal | CallStop | undefined;
  request: IntegrationStartRequest | null;
  /** An attempt is running (its own abort handling will end it promptly). */
  busy: boolean;
}

/**
 * Calls IntegrationStart on the upstream and returns the parsed, identity-checked DTO.
 *
 * Every failure is an {@link UpstreamError} carrying `attempts` and `outcomeUnknownRetried`; messages, errors and
 * attempt records never contain the bearer token, the Basic password, URL credentials, the client secret or an
 * access token, and never carry the transport's error (whose request holds the Authorization header) as `cause`.
 */
@Injectable()
export class UpstreamClient implements OnModuleDestroy {
  /** The upstream base URL without credentials and trailing slashes (the breaker's key). */
  readonly baseUrl: string;
  /** The HttpService every request to the upstream goes through (metrics add interceptors to its axios instance). */
  readonly http: HttpService;
  private readonly options: ResolvedUpstreamOptions;
  private readonly transport: UpstreamTransport;
  private readonly retries: RetryPlan;
  /** Static Authorization header (bearer, basic, URL userinfo); null for none and client_credentials. */
  private readonly authorization: string | null;
  private readonly tokens: AccessTokens | null = null;
  private readonly breaker: UpstreamBreaker;
  /** Secrets to scrub from any message; access tokens are added as they arrive. */
  private readonly redactor = new Redactor();

  /**
   * @param breakers where the breaker of `baseUrl` lives; `UpstreamModule` provides one per app, clients built by
   *   hand share {@link defaultUpstreamBreakerRegistry}.
   * @param http the HttpService of `UpstreamModule`'s HttpModule; a client built by hand makes its own.
   * @throws TypeError / RangeError on invalid options (a configuration error, raised at startup; the message never
   *   includes credentials).
   */
  constructor(
    @Inject(UPSTREAM_CLIENT_OPTIONS) options: UpstreamClientOptions,
    @Optional() @Inject(UpstreamBreakerRegistry) breakers?: UpstreamBreakerRegistry,
    @Optional() @Inject(HttpService) http?: HttpService,
  ) {
    this.options = resolveUpstreamOptions(options);
    this.baseUrl = this.options.baseUrl;
    const credentials = credentialsOf(this.options, this.redactor);
    this.authorization = credentials.authorization;
    this.retries = new RetryPlan(this.options.retry, this.options.timeoutMs, this.options.random);
    this.breaker = (breakers ?? defaultUpstreamBreakerRegistry).get(this.baseUrl, this.options.breaker);
    this.http = http ?? createUpstreamHttpService(this.options.connectTimeoutMs);
    this.transport = new UpstreamTransport(this.http, this.options.connectTimeoutMs);
    if (credentials.tokenRequest !== null) {
      const finish = (error: unknown) => this.finalError(error, null);
      this.tokens = new AccessTokens(credentials.tokenRequest, this.transport, this.redactor, this.options.now, finish);
    }
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
   * POSTs IntegrationStart for `key`, parses the answer and checks it is about `key`, retrying transient failures
   * within the call's deadline (see {@link RetryPlan}). On a 401 with client_credentials the token is refreshed and
   * the request sent once more (once per call; this re-send does not use up a retry).
   *
   * The whole call, body included, is bounded by `timeoutMs`, each attempt by `attemptTimeoutMs`, a new connection
   * by `connectTimeoutMs`. Redirects are not followed, environment proxies are not used.
   *
   * @throws UpstreamBreakerOpenError (`breaker_open`) the breaker is open; no request was made.
   * @throws UpstreamTimeoutError (`timeout`) the deadline passed; says whether the request had been sent.
   * @throws UpstreamAbortedError (`aborted`) `options.signal` was aborted.
   * @throws UpstreamConnectionError (`connection`) refused, reset, DNS, TLS failures, connect deadline (host:port only).
   * @throws UpstreamBodyTooLargeError (`body_too_large`) more than `maxBodyBytes`.
   * @throws UpstreamHttpStatusError (`http_status`) non-2xx, with the ASP.NET error's Message, ExceptionType and
   *   ExceptionMessage when the body is one, else a 200-char excerpt.
   * @throws UpstreamTokenError (`token`) the token endpoint refused or answered no usable token.
   * @throws UpstreamBodyUnreadableError / UpstreamNotDtoError from the parser (with `httpStatus`).
   * @throws UpstreamIdentityMismatchError (`identity_mismatch`) the DTO is about another integration.
   * @throws UpstreamRequestError (`invalid_request`) the key cannot be sent (see the request builder).
   * @throws UpstreamUnexpectedError (`unexpected`) anything else.
   * After several attempts the message summarises them (see {@link callSummary}); the error's class, `code` and
   * `httpStatus` are those of the last attempt.
   */
  async integrationStart(
    key: IntegrationKey,
    options: IntegrationStartCallOptions = {},
  ): Promise<IntegrationStartResult> {
    const started = performance.now();
    const timeoutMs = this.options.timeoutMs;
    const external = options.signal;
    const stop = new CallStop();
    const call: Call = {
      key,
      external,
      request: null,
      stop,
      deadlineAt: started + timeoutMs,
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
    const timer = setTimeout(() => stop.abort(new DeadlineReason(timeoutMs)), timeoutMs);
    const stopListening = listenForAbort(external, () => stop.abort(new CallerAbortReason()));
    try {
      if (external?.aborted) throw new UpstreamAbortedError(this.options.endpoint.url, false);
      call.request = buildIntegrationStartRequest(this.options.format, key);
      let result: CallResult;
      try {
        result = await this.untilStopped(this.throughBreaker(call), call);
      } catch (error) {
        if (isBrokenCircuitError(error)) throw this.breakerOpenError();
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

  /** Closes the kept-alive sockets. */
  onModuleDestroy(): void {
    destroyUpstreamAgents(this.http.axiosRef.defaults);
  }

  /** One run: the retry plan around {@link tryOnce}. */
  private async withRetries(call: Call): Promise<CallResult> {
    try {
      return await this.retries.run(call, () => this.tryOnce(call));
    } catch (error) {
      // Before the breaker sees it: a run that made no request does not count (countsForBreaker).
      if (error instanceof UpstreamError) error.attempts = call.attempts;
      throw error;
    }
  }

  /** The run inside the breaker, as a promise also when the breaker refuses it at once. */
  private async throughBreaker(call: Call): Promise<CallResult> {
    return this.breaker.execute(() => this.withRetries(call));
  }

  /**
   * Settles with `work`, or, when the call is cancelled or its deadline passes while no attempt is running (waiting
   * for a retry, or for a half-open breaker's trial), at once with that reason. While an attempt runs, its own abort
   * handling ends it promptly with a recorded attempt.
   */
  private async untilStopped<T>(work: Promise<T>, call: Call): Promise<T> {
    let stopListening = (): void => undefined;
    const stopped = new Promise<never>((_resolve, reject) => {
      stopListening = call.stop.onAbort((reason) => {
        if (!call.busy) reject(stopError(reason, this.options.endpoint.url, notStarted()));
      });
    });
    try {
      return await Promise.race([work, stopped]);
    } finally {
      stopListening();
    }
  }

  /** One attempt of the retry policy: one request, plus one re-send after a 401 token refresh. */
  private async tryOnce(call: Call): Promise<CallResult> {
    call.tries += 1;
    for (;;) {
      if (call.stop.aborted) throw stopError(call.stop.reason, this.options.endpoint.url, notStarted());
      const outcome = await this.attempt(call);
      if (outcome !== 'refreshed') return outcome;
    }
  }

  /**
   * Sends the request once and records the attempt.
   * @returns the result, or `'refreshed'` when a 401 made the token be dropped and the request should be sent again.
   */
  private async attempt(call: Call): Promise<CallResult | 'refreshed'> {
    const request = call.request!;
    const startedAt = new Date().toISOString();
    const t0 = performance.now();
    const stops = this.attemptStops(call, t0);
    const progress = notStarted();
    call.busy = true;
    call.lastSentWithoutAnswer = false;
    try {
      const token =
        this.tokens === null
          ? null
          : await this.tokens.forAttempt(
              stops,
              call.external,
              Math.min(call.deadlineAt, t0 + this.options.attemptTimeoutMs),
            );
      const response = await this.send(request, token, stops, progress);
      const httpStatus = response.status;
      const contentType = headerText(response.headers['content-type']) ?? null;
      if (httpStatus < 200 || httpStatus > 299) {
        const error = this.statusError(response, contentType);
        if (httpStatus === 401 && token !== null && !call.refreshedOn401) {
          this.dropRefusedToken(call, token, error, startedAt, t0);
          return 'refreshed';
        }
        throw error;
      }
      const status = this.readAnswer(response, contentType, call.key);
      recordAttempt(call, startedAt, t0, { httpStatus, errorCode: null, error: null });
      return { status, httpStatus, contentType };
    } catch (raw) {
      throw this.failedAttempt(raw, call, progress, startedAt, t0);
    } finally {
      call.busy = false;
    }
  }

  /** The attempt's own deadline, when it comes before the call's (the call's stop covers the rest). */
  private attemptStops(call: Call, t0: number): ExchangeStops {
    const { attemptTimeoutMs } = this.options;
    return attemptTimeoutMs < call.deadlineAt - t0
      ? { stop: call.stop, timeoutMs: attemptTimeoutMs, timeoutReason: new DeadlineReason(attemptTimeoutMs) }
      : { stop: call.stop };
  }

  /** Sends the request with the fetched token's Authorization, else the static one, if any. */
  private send(
    request: IntegrationStartRequest,
    token: string | null,
    stops: ExchangeStops,
    progress: ExchangeProgress,
  ): Promise<ExchangeResponse> {
    const authorization = token !== null ? `Bearer ${token}` : this.authorization;
    const headers = { 'content-type': request.contentType, accept: request.accept, 'user-agent': USER_AGENT };
    return this.transport.exchange(
      this.options.endpoint,
      {
        body: request.body,
        headers: authorization === null ? headers : { ...headers, authorization },
        maxBodyBytes: this.options.maxBodyBytes,
      },
      stops,
      progress,
    );
  }

  /** The error of a non-2xx answer, with the wait its Retry-After asks for. */
  private statusError(response: ExchangeResponse, contentType: string | null): UpstreamHttpStatusError {
    const retryAfterMs = parseRetryAfter(headerText(response.headers['retry-after']), Date.now());
    return httpStatusError(response.status, response.body, contentType, retryAfterMs, this.redactor);
  }

  /**
   * After a 401 to a fetched token: drops the token, so that the re-send fetches a new one, and records the attempt.
   * Done once per call, so that an upstream refusing every token does not loop.
   */
  private dropRefusedToken(
    call: Call,
    token: string,
    error: UpstreamHttpStatusError,
    startedAt: string,
    t0: number,
  ): void {
    call.refreshedOn401 = true;
    this.tokens!.invalidate(token);
    recordAttempt(call, startedAt, t0, {
      httpStatus: 401,
      errorCode: error.code,
      error: `${this.redactor.scrub(error.message)} (token refreshed, sending again)`,
    });
  }

  /** Parses a 2xx answer and checks it is about `key`; the parser's errors carry the answer's status. */
  private readAnswer(response: ExchangeResponse, contentType: string | null, key: IntegrationKey): IntegrationStatus {
    try {
      const status = parseIntegrationStatus(response.body, contentType ?? undefined, {
        defaultTimeZone: this.options.defaultTimeZone,
      });
      assertSameIntegration(status, key);
      return status;
    } catch (error) {
      throw error instanceof UpstreamError ? attachHttpStatus(error, response.status) : error;
    }
  }

  /**
   * What a failed attempt throws: `raw` as an UpstreamError, after recording the attempt and telling the retry plan
   * whether a sent request went unanswered (its outcome unknown).
   */
  private failedAttempt(
    raw: unknown,
    call: Call,
    progress: ExchangeProgress,
    startedAt: string,
    t0: number,
  ): UpstreamError {
    let error = this.finalError(raw, null);
    // A body over the limit is refused after its status line arrived, like a body that does not parse.
    if (error instanceof UpstreamBodyTooLargeError && progress.status !== undefined) {
      error = attachHttpStatus(error, progress.status);
    }
    const retryAfterMs = retryAfterOf(error);
    recordAttempt(call, startedAt, t0, {
      // The status line seen, also when the body then broke off or timed out.
      httpStatus: error.httpStatus ?? progress.status ?? null,
      errorCode: error.code,
      error: error.message,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
    call.lastSentWithoutAnswer = progress.requestSent && (error.code === 'timeout' || error.code === 'connection');
    call.lastAttemptError = error;
    return error;
  }

  private breakerOpenError(): UpstreamBreakerOpenError {
    return new UpstreamBreakerOpenError({
      baseUrl: this.baseUrl,
      hostPort: this.options.hostPort,
      threshold: this.breaker.settings.threshold,
      halfOpenAt: this.breaker.halfOpenAt(),
      lastFailure: this.breaker.lastFailureMessage(),
    });
  }

  /**
   * Makes sure what leaves the client is an UpstreamError whose message holds no secret; with a `call`, attaches its
   * attempts and summarises them in the message when there were several.
   */
  private finalError(error: unknown, call: Call | null): UpstreamError {
    let upstreamError: UpstreamError;
    if (error instanceof UpstreamError) upstreamError = error;
    else if (error instanceof DeadlineReason || error instanceof CallerAbortReason) {
      // A raw stop reason (the call stopped before a request started).
      upstreamError = stopError(error, this.options.endpoint.url, notStarted());
    } else {
      upstreamError = new UpstreamUnexpectedError(
        `upstream call failed unexpectedly: ${error instanceof Error ? error.message : String(error)}`,
        // Only errors of our own code get here (transport errors are mapped by the transport), so the cause holds
        // no headers.
        { cause: error },
      );
    }
    if (call !== null) {
      const where = {
        hostPort: this.options.hostPort,
        timeoutMs: this.options.timeoutMs,
        retryable: isRetryable(upstreamError),
      };
      const summary = callSummary(upstreamError, call, where, this.redactor);
      if (summary !== null) upstreamError.message = summary;
      upstreamError.attempts = call.attempts;
      upstreamError.outcomeUnknownRetried = call.outcomeUnknownRetried;
    }
    const scrubbed = this.redactor.scrub(upstreamError.message);
    if (scrubbed !== upstreamError.message) upstreamError.message = scrubbed;
    return upstreamError;
  }
}

/** How an attempt ended, as recorded beside its number, start and duration. */
type AttemptOutcome = Pick<UpstreamAttempt, 'httpStatus' | 'errorCode' | 'error'> & { retryAfterMs?: number };

/** Appends to the call's record the attempt that started at `startedAt` (`t0` on the performance clock). */
function recordAttempt(call: Call, startedAt: string, t0: number, outcome: AttemptOutcome): void {
  call.attempts.push({
    attempt: call.attempts.length + 1,
    startedAt,
    durationMs: Math.round((performance.now() - t0) * 10) / 10,
    ...outcome,
  });
}

function notStarted(): ExchangeProgress {
  return { requestSent: false, responseStarted: false };
}

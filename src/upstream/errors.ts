/**
 * Typed errors for everything that can go wrong between Tidemark and the upstream
 * `IntegrationStatus/IntegrationStart` endpoint.
 *
 * Every error thrown by `src/upstream/*` is an {@link UpstreamError}: callers switch on
 * `code` (stable, snake_case, safe to store and to expose) rather than on message text.
 * Messages say what was wrong and where (field names, HTTP status, host:port) and never
 * contain credentials. Errors never carry the HTTP transport's error as `cause`: its request
 * holds the Authorization header.
 */

/** Every code an {@link UpstreamError} can have. */
export type UpstreamErrorCode =
  | 'body_unreadable'
  | 'not_a_dto'
  | 'http_status'
  | 'identity_mismatch'
  | 'timeout'
  | 'connection'
  | 'body_too_large'
  | 'invalid_request'
  | 'aborted'
  | 'breaker_open'
  | 'token'
  | 'unexpected';

/**
 * One HTTP request to IntegrationStart made by one `integrationStart` call (a run): retries and the
 * re-send after a 401 token refresh each add one. A token request is part of the attempt it was
 * made for (its time is in `durationMs`; when it failed, its error is the attempt's error).
 */
export interface UpstreamAttempt {
  /** 1, 2, ... in the order the attempts were made. */
  attempt: number;
  /** When the attempt started, ISO 8601 UTC with milliseconds (`2025-12-10T14:22:52.810Z`). */
  startedAt: string;
  /** Wall time of the attempt, ms (rounded to 0.1 ms). */
  durationMs: number;
  /** HTTP status of the answer, null when none arrived (connection failure, timeout). */
  httpStatus: number | null;
  /** `UpstreamError.code` of the attempt's failure, null for the successful attempt. */
  errorCode: string | null;
  /** The failure's message (credentials scrubbed), null for the successful attempt. */
  error: string | null;
  /** What the answer's `Retry-After` asked for, ms, when it had a readable one. */
  retryAfterMs?: number;
}

/** Base class of every error raised by the upstream module. */
export abstract class UpstreamError extends Error {
  /** Stable machine-readable reason, e.g. `not_a_dto`. */
  abstract readonly code: UpstreamErrorCode;
  /** HTTP status of the upstream answer, when one was received. */
  readonly httpStatus?: number;
  /**
   * Every attempt of the `UpstreamClient.integrationStart` call that failed with this error, oldest
   * first (empty when no request was made, e.g. breaker open or invalid request). Set on every error
   * that call throws; absent on errors from the parser and other helpers used directly.
   */
  attempts?: UpstreamAttempt[];
  /**
   * True when the call retried an attempt whose request had been sent but whose answer never came
   * completely (a timeout or broken connection after sending): that attempt may have started the
   * integration upstream. Set together with `attempts`.
   */
  outcomeUnknownRetried?: boolean;

  protected constructor(message: string, options?: { cause?: unknown; httpStatus?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    if (options?.httpStatus !== undefined) this.httpStatus = options.httpStatus;
  }
}

/**
 * The body cannot be read as a JSON or XML document at all: empty, truncated, not
 * well-formed, an HTML page, a DOCTYPE (refused before parsing), an undecodable or
 * unsupported charset.
 */
export class UpstreamBodyUnreadableError extends UpstreamError {
  readonly code = 'body_unreadable' as const;

  constructor(message: string, options?: { cause?: unknown; httpStatus?: number }) {
    super(message, options);
  }
}

/**
 * The body is a readable document but not an IntegrationStatusDTO: JSON `null`, an array,
 * a wrong XML root, a missing or duplicated field, a field of the wrong type, an integer out
 * of range or not an integer literal, or unparseable date text.
 */
export class UpstreamNotDtoError extends UpstreamError {
  readonly code = 'not_a_dto' as const;
  /** The upstream (PascalCase) field the problem is in, when it is about one field. */
  readonly field?: string;

  constructor(message: string, options?: { cause?: unknown; httpStatus?: number; field?: string }) {
    super(message, options);
    if (options?.field !== undefined) this.field = options.field;
  }
}

/**
 * Date text that `parseUpstreamDate` does not accept. A {@link UpstreamNotDtoError}, so a
 * bad date in a DTO has the same `code` as any other bad field.
 */
export class UpstreamDateFormatError extends UpstreamNotDtoError {
  /** The rejected text (already made safe for messages: quoted and cut to 100 chars). */
  readonly text: string;
  /** Why it was rejected, without the text. */
  readonly reason: string;

  constructor(text: string, reason: string) {
    const shown = quoteForMessage(text, 100);
    super(`invalid date ${shown}: ${reason}`);
    this.text = shown;
    this.reason = reason;
  }
}

/** What an ASP.NET Web API error body (`HttpError`) said, as far as it said it. */
export interface AspNetErrorDetails {
  message?: string;
  messageDetail?: string;
  exceptionMessage?: string;
  exceptionType?: string;
}

/**
 * The upstream answered with a status outside 2xx. When the body is an ASP.NET `HttpError`
 * (JSON or XML with `Message`, `ExceptionMessage`, `ExceptionType`), those are in `aspNet`
 * and in the message; otherwise `bodyExcerpt` holds a control-char-free excerpt of at most
 * 200 characters.
 */
export class UpstreamHttpStatusError extends UpstreamError {
  readonly code = 'http_status' as const;
  declare readonly httpStatus: number;
  readonly aspNet?: AspNetErrorDetails;
  readonly bodyExcerpt?: string;
  /** The wait the answer's `Retry-After` header asked for, ms (seconds or HTTP-date form), when readable. */
  readonly retryAfterMs?: number;

  constructor(
    message: string,
    details: { httpStatus: number; aspNet?: AspNetErrorDetails; bodyExcerpt?: string; retryAfterMs?: number },
  ) {
    super(message, { httpStatus: details.httpStatus });
    if (details.aspNet !== undefined) this.aspNet = details.aspNet;
    if (details.bodyExcerpt !== undefined) this.bodyExcerpt = details.bodyExcerpt;
    if (details.retryAfterMs !== undefined) this.retryAfterMs = details.retryAfterMs;
  }
}

/**
 * The DTO is about another integration than the one asked for (different SourceSystemId,
 * or an IntegrationName that differs other than by letter case), or does not say which.
 */
export class UpstreamIdentityMismatchError extends UpstreamError {
  readonly code = 'identity_mismatch' as const;
  readonly expected: { sourceSystemId: number; integrationName: string };
  readonly received: { sourceSystemId: number | null; integrationName: string | null };

  constructor(
    expected: { sourceSystemId: number; integrationName: string },
    received: { sourceSystemId: number | null; integrationName: string | null },
    options?: { httpStatus?: number },
  ) {
    super(
      `upstream answered for SourceSystemId=${String(received.sourceSystemId)} ` +
        `IntegrationName=${received.integrationName === null ? 'null' : quoteForMessage(received.integrationName, 100)}` +
        ` but was asked for SourceSystemId=${expected.sourceSystemId} ` +
        `IntegrationName=${quoteForMessage(expected.integrationName, 100)}`,
      options,
    );
    this.expected = { ...expected };
    this.received = { ...received };
  }
}

/** The whole call (connect, send, headers and the entire body) did not finish in time. */
export class UpstreamTimeoutError extends UpstreamError {
  readonly code = 'timeout' as const;
  /** The deadline that was exceeded, in milliseconds. */
  readonly timeoutMs: number;
  /** Whether the request had been completely handed to the network before the deadline. */
  readonly requestSent: boolean;
  /** Whether response headers had arrived (the deadline hit while the body was arriving). */
  readonly responseStarted: boolean;

  constructor(details: { timeoutMs: number; requestSent: boolean; responseStarted: boolean; target: string }) {
    const where = details.responseStarted
      ? 'the request had been sent and the response body was still arriving'
      : details.requestSent
        ? 'the request had been sent but no response headers had arrived'
        : 'the request had not been sent yet (connecting or sending)';
    super(`upstream ${details.target} did not answer completely within ${details.timeoutMs} ms: ${where}`);
    this.timeoutMs = details.timeoutMs;
    this.requestSent = details.requestSent;
    this.responseStarted = details.responseStarted;
  }
}

/** The TCP/TLS connection failed or broke (ECONNREFUSED, ECONNRESET, ENOTFOUND, ...). */
export class UpstreamConnectionError extends UpstreamError {
  readonly code = 'connection' as const;
  /** `host:port` of the upstream, without credentials. */
  readonly hostPort: string;
  /** The system error code when there was one, e.g. `ECONNREFUSED`. */
  readonly systemCode?: string;

  constructor(hostPort: string, systemCode: string | undefined, detail?: string) {
    super(
      `connection to upstream ${hostPort} failed` +
        (systemCode ? `: ${systemCode}` : '') +
        (detail ? ` (${detail})` : ''),
    );
    this.hostPort = hostPort;
    if (systemCode !== undefined) this.systemCode = systemCode;
  }
}

/** The response body exceeded the configured `maxBodyBytes`. */
export class UpstreamBodyTooLargeError extends UpstreamError {
  readonly code = 'body_too_large' as const;
  readonly limitBytes: number;

  constructor(limitBytes: number, options?: { httpStatus?: number }) {
    super(`upstream response body exceeds the limit of ${limitBytes} bytes`, options);
    this.limitBytes = limitBytes;
  }
}

/** The request cannot be built (e.g. an IntegrationName that XML 1.0 cannot carry). */
export class UpstreamRequestError extends UpstreamError {
  readonly code = 'invalid_request' as const;

  constructor(message: string) {
    super(message);
  }
}

/** The caller cancelled the call through its AbortSignal (e.g. the replica is shutting down). */
export class UpstreamAbortedError extends UpstreamError {
  readonly code = 'aborted' as const;
  /** Whether the request had been completely handed to the network before the cancellation. */
  readonly requestSent: boolean;

  constructor(target: string, requestSent: boolean) {
    super(
      `call to upstream ${target} was cancelled by the caller` +
        (requestSent ? ' after the request had been sent' : ' before the request had been sent'),
    );
    this.requestSent = requestSent;
  }
}

/**
 * The circuit breaker of this upstream base URL is open (too many consecutive failed runs): the
 * call failed fast and sent no request.
 */
export class UpstreamBreakerOpenError extends UpstreamError {
  readonly code = 'breaker_open' as const;
  /** The upstream base URL without credentials (the breaker's key). */
  readonly baseUrl: string;
  /** When the breaker lets one trial run through, ISO 8601 UTC; null when unknown. */
  readonly halfOpenAt: string | null;

  constructor(details: {
    baseUrl: string;
    hostPort: string;
    threshold: number;
    halfOpenAt: Date | null;
    lastFailure: string | null;
  }) {
    const when = details.halfOpenAt === null ? '' : `; next trial run after ${details.halfOpenAt.toISOString()}`;
    super(
      `upstream ${details.hostPort} was not called: its circuit breaker is open after ${details.threshold} consecutive failed runs` +
        when +
        (details.lastFailure === null ? '' : ` (last failure: ${details.lastFailure})`),
    );
    this.baseUrl = details.baseUrl;
    this.halfOpenAt = details.halfOpenAt === null ? null : details.halfOpenAt.toISOString();
  }
}

/**
 * The client_credentials token endpoint refused the client (e.g. `invalid_client`), answered
 * another non-2xx status, or answered something without a usable `access_token`. Connection
 * failures and timeouts of the token request are {@link UpstreamConnectionError} and
 * {@link UpstreamTimeoutError} instead. Never contains the token or the client secret.
 */
export class UpstreamTokenError extends UpstreamError {
  readonly code = 'token' as const;
  /** The OAuth2 `error` field of the answer (e.g. `invalid_client`), when there was one. */
  readonly oauthError?: string;
  /** The wait the answer's `Retry-After` header asked for, ms, when readable. */
  readonly retryAfterMs?: number;

  constructor(message: string, options?: { httpStatus?: number; oauthError?: string; retryAfterMs?: number }) {
    super(message, options);
    if (options?.oauthError !== undefined) this.oauthError = options.oauthError;
    if (options?.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}

/** Anything else; wraps an unknown failure so callers only ever see {@link UpstreamError}s. */
export class UpstreamUnexpectedError extends UpstreamError {
  readonly code = 'unexpected' as const;

  constructor(message: string, options?: { cause?: unknown; httpStatus?: number }) {
    super(message, options);
  }
}

/**
 * Records the HTTP status of the answer an error came from, for errors raised after the status
 * was known (parsing, identity check). Internal to the upstream module.
 */
export function attachHttpStatus<E extends UpstreamError>(error: E, httpStatus: number): E {
  if (error.httpStatus === undefined) {
    Object.defineProperty(error, 'httpStatus', {
      value: httpStatus,
      enumerable: true,
      writable: false,
      configurable: true,
    });
  }
  return error;
}

/**
 * Quotes a string for an error message: JSON-style escapes (so control characters and
 * quotes cannot forge log lines) and at most `max` characters of the original.
 */
export function quoteForMessage(text: string, max: number): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return JSON.stringify(cut);
}

/**
 * Which failed attempts of a call are retried, and after how long: cockatiel's retry policy with full-jitter
 * exponential backoff, `Retry-After` on 429 and 503, all within the call's deadline.
 */
import { performance } from 'node:perf_hooks';
import { DelegateBackoff, handleWhen, retry } from 'cockatiel';
import { retryAfterFirstFailure } from '../common/retry-after-first-failure';
import type { CallStop } from './call-stop';
import { UpstreamError } from './errors';
import { type GiveUp, retryAfterOf } from './error-text';
import type { UpstreamRetryOptions } from './upstream-options';

/** HTTP statuses retried (with backoff); 429 and 503 honour `Retry-After`. */
const RETRYABLE_STATUSES = new Set([429, 502, 503, 504]);
const RETRY_AFTER_STATUSES = new Set([429, 503]);

/** What the plan reads and writes of one call. */
export interface RetryState {
  /** Aborted by the call deadline or the caller. */
  stop: CallStop;
  /** `performance.now()` by which everything must be over. */
  deadlineAt: number;
  /** Attempts made by the retry policy (the re-send after a 401 refresh is not one). */
  tries: number;
  /** The last failed attempt had sent its request and got no complete answer. */
  lastSentWithoutAnswer: boolean;
  /** True once such an attempt was retried: it may have started the integration upstream. */
  outcomeUnknownRetried: boolean;
  /** The wait before the next retry, set when a retry is decided. */
  nextDelayMs: number;
  /** Every allowed attempt was made. */
  exhausted: boolean;
  giveUp: GiveUp | null;
}

/** Whether the retry policy may retry after `error` (deadline permitting). */
export function isRetryable(error: UpstreamError): boolean {
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

/**
 * Retries of one client. Retried (up to `maxAttempts` attempts): connection failures, timeouts of an attempt, HTTP
 * 429, 502, 503 and 504, and the same statuses from the token endpoint. Retry n waits a random time in
 * [0, min(maxMs, baseMs * 2^(n-1))), or what `Retry-After` asks for on 429 and 503. A retry whose wait would leave
 * less than min(1 s, timeoutMs / 10) of the deadline is not made.
 */
export class RetryPlan {
  constructor(
    private readonly settings: UpstreamRetryOptions,
    private readonly timeoutMs: number,
    private readonly random: () => number,
  ) {}

  /**
   * Runs `attempt`, retried by cockatiel's policy as decided by {@link shouldRetry}. The policy is built only when
   * the first attempt fails: most calls succeed at once.
   */
  run<T>(state: RetryState, attempt: () => Promise<T>): Promise<T> {
    return retryAfterFirstFailure(
      attempt,
      () =>
        retry(
          handleWhen((error) => this.shouldRetry(error, state)),
          { maxAttempts: this.settings.maxAttempts - 1, backoff: new DelegateBackoff(() => state.nextDelayMs) },
          // The wait itself cannot be cancelled; the client answers a cancelled caller meanwhile, and an unref'd
          // timer does not hold the process open.
        ).dangerouslyUnref(),
      () => state.stop.signal,
    );
  }

  /** Whether to retry after `error`; sets the wait. Called once per failed attempt. */
  shouldRetry(error: Error, state: RetryState): boolean {
    if (state.stop.aborted || !(error instanceof UpstreamError) || !isRetryable(error)) return false;
    if (state.tries >= this.settings.maxAttempts) {
      state.exhausted = true;
      return false;
    }
    const remainingMs = state.deadlineAt - performance.now();
    // The deadline itself has passed (a token request bounded by it timed out a hair before the call's own timer):
    // nothing to give up, the call is over.
    if (remainingMs <= 0) return false;
    // Enough time must be left for the next attempt to have a fair chance.
    const minAttemptMs = Math.min(1_000, this.timeoutMs / 10);
    const remaining = Math.max(0, Math.round(remainingMs));
    const retryAfterMs =
      error.httpStatus !== undefined && RETRY_AFTER_STATUSES.has(error.httpStatus) ? retryAfterOf(error) : undefined;
    let waitMs: number;
    if (retryAfterMs !== undefined) {
      if (retryAfterMs + minAttemptMs > remainingMs) {
        state.giveUp = { kind: 'retry_after_past_deadline', retryAfterMs, remainingMs: remaining };
        return false;
      }
      waitMs = retryAfterMs;
    } else {
      const capMs = Math.min(this.settings.maxMs, this.settings.baseMs * 2 ** (state.tries - 1));
      waitMs = Math.floor(this.random() * capMs);
      if (waitMs + minAttemptMs > remainingMs) {
        state.giveUp = { kind: 'wait_past_deadline', waitMs, remainingMs: remaining };
        return false;
      }
    }
    if (state.lastSentWithoutAnswer) state.outcomeUnknownRetried = true;
    state.nextDelayMs = waitMs;
    return true;
  }
}

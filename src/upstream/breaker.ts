/**
 * Circuit breakers for the upstream, one per upstream base URL, on cockatiel's
 * `CircuitBreakerPolicy` + `ConsecutiveBreaker`.
 *
 * What a breaker counts is one *run*: one `UpstreamClient.integrationStart` call with all its
 * retries. Which failures count is decided by {@link countsForBreaker}.
 */
import { Injectable } from '@nestjs/common';
import { CircuitBreakerPolicy, CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhen } from 'cockatiel';
import { UpstreamError } from './errors';

/** What the health endpoint and metrics show. */
export type UpstreamBreakerState = 'closed' | 'open' | 'half_open';

/** Settings of one breaker. */
export interface UpstreamBreakerSettings {
  /** Consecutive failed runs that open the breaker (>= 1). */
  threshold: number;
  /** How long the breaker stays open before it lets one trial run through, ms (> 0). */
  halfOpenAfterMs: number;
}

/** A snapshot of one breaker, for health and metrics. */
export interface UpstreamBreakerSnapshot {
  /** The upstream base URL without credentials (the breaker's key). */
  baseUrl: string;
  state: UpstreamBreakerState;
  /** Failed runs in a row counted so far (0 after a success). */
  consecutiveFailures: number;
  threshold: number;
  halfOpenAfterMs: number;
  /** When the breaker last opened, ISO UTC; null when it never opened or is closed again. */
  openedAt: string | null;
}

/**
 * Whether a run that ended with `error` counts as a failure of the upstream for the breaker.
 *
 * Counts (the upstream is down or sick): connection failures (incl. the connect timeout),
 * timeouts, HTTP 5xx and 429, bodies that cannot be read (an HTML maintenance page with 200 is a
 * classic sign of a sick upstream), and token endpoint failures with 5xx/429 (a token endpoint's
 * connection failures and timeouts are connection/timeout errors, so they count too).
 *
 * Does not count (the caller's problem, one integration's data, or nobody's): 4xx other than 429
 * (incl. a 401 that persists after a token refresh and a token endpoint's `invalid_client`), a
 * well-formed answer that is not a valid DTO or is over the size limit (one integration's data),
 * a DTO about another integration (identity mismatch), a request that cannot be built, a cancelled call, and
 * unexpected internal errors, and runs that made no request. These leave the count as it was while the breaker is closed; a
 * half-open trial run that ends with one of them closes the breaker (the upstream answered).
 */
export function countsForBreaker(error: unknown): boolean {
  if (!(error instanceof UpstreamError)) return false;
  // A run that made no request (its deadline passed while it waited for a half-open trial) says
  // nothing about the upstream.
  if (error.attempts !== undefined && error.attempts.length === 0) return false;
  switch (error.code) {
    case 'connection':
    case 'timeout':
    case 'body_unreadable':
      return true;
    // A well-formed answer with a bad field, or an oversized one, is about one integration's data, not a sick
    // upstream: counting it would let one broken integration starve every healthy one behind the same base URL.
    case 'not_a_dto':
    case 'body_too_large':
      return false;
    case 'http_status':
    case 'token':
      return error.httpStatus !== undefined && (error.httpStatus >= 500 || error.httpStatus === 429);
    default:
      return false;
  }
}

/** One upstream's breaker. */
export class UpstreamBreaker {
  private readonly consecutive: ConsecutiveBreaker;
  private readonly policy: CircuitBreakerPolicy;
  private openedAtMs: number | null = null;

  constructor(
    readonly baseUrl: string,
    readonly settings: UpstreamBreakerSettings,
  ) {
    this.consecutive = new ConsecutiveBreaker(settings.threshold);
    this.policy = circuitBreaker(handleWhen(countsForBreaker), {
      halfOpenAfter: settings.halfOpenAfterMs,
      breaker: this.consecutive,
    });
    // cockatiel measures the open period with Date.now() too.
    this.policy.onBreak(() => {
      this.openedAtMs = Date.now();
    });
    this.policy.onReset(() => {
      this.openedAtMs = null;
    });
  }

  /**
   * Runs `fn` through the breaker.
   * @throws cockatiel's BrokenCircuitError while open (the client turns it into UpstreamBreakerOpenError);
   *   otherwise whatever `fn` throws.
   */
  execute<T>(fn: () => Promise<T>): Promise<T> {
    return this.policy.execute(fn);
  }

  /**
   * `open` until `halfOpenAfterMs` has passed since it opened, `half_open` from then until a trial
   * run settles it (cockatiel itself only moves to half-open when the next call arrives).
   */
  state(): UpstreamBreakerState {
    switch (this.policy.state) {
      case CircuitState.Closed:
        return 'closed';
      case CircuitState.HalfOpen:
        return 'half_open';
      default:
        return this.openedAtMs !== null && Date.now() - this.openedAtMs >= this.settings.halfOpenAfterMs
          ? 'half_open'
          : 'open';
    }
  }

  /** When the open breaker lets a trial run through; null unless it is open. */
  halfOpenAt(): Date | null {
    return this.policy.state === CircuitState.Open && this.openedAtMs !== null
      ? new Date(this.openedAtMs + this.settings.halfOpenAfterMs)
      : null;
  }

  /** The message of the failure that last counted, for the breaker-open message. */
  lastFailureMessage(): string | null {
    const last = this.policy.lastFailure;
    return last !== undefined && 'error' in last && last.error instanceof Error ? last.error.message : null;
  }

  snapshot(): UpstreamBreakerSnapshot {
    return {
      baseUrl: this.baseUrl,
      state: this.state(),
      consecutiveFailures: this.consecutive.state,
      threshold: this.settings.threshold,
      halfOpenAfterMs: this.settings.halfOpenAfterMs,
      openedAt: this.openedAtMs === null ? null : new Date(this.openedAtMs).toISOString(),
    };
  }
}

/**
 * The breakers by upstream base URL (without credentials). `UpstreamModule` provides one per
 * application, so every client of the same upstream in an app shares its breaker; clients built
 * by hand share {@link defaultUpstreamBreakerRegistry} unless given their own.
 */
@Injectable()
export class UpstreamBreakerRegistry {
  private readonly breakers = new Map<string, UpstreamBreaker>();

  /**
   * The breaker of `baseUrl`, created with `settings` on first use; later calls get the same
   * breaker and its first settings.
   * @throws RangeError for settings out of range.
   */
  get(baseUrl: string, settings: UpstreamBreakerSettings): UpstreamBreaker {
    const existing = this.breakers.get(baseUrl);
    if (existing !== undefined) return existing;
    if (!Number.isSafeInteger(settings.threshold) || settings.threshold < 1) {
      throw new RangeError(`upstream breaker threshold must be a positive integer, got ${String(settings.threshold)}`);
    }
    if (!(Number.isFinite(settings.halfOpenAfterMs) && settings.halfOpenAfterMs > 0)) {
      throw new RangeError(
        `upstream breaker halfOpenAfterMs must be a positive number, got ${String(settings.halfOpenAfterMs)}`,
      );
    }
    const breaker = new UpstreamBreaker(baseUrl, { ...settings });
    this.breakers.set(baseUrl, breaker);
    return breaker;
  }

  /** Snapshots of every breaker, by base URL. */
  snapshots(): UpstreamBreakerSnapshot[] {
    return [...this.breakers.values()].map((b) => b.snapshot());
  }
}

/** The registry of clients constructed without one (outside Nest). */
export const defaultUpstreamBreakerRegistry = new UpstreamBreakerRegistry();

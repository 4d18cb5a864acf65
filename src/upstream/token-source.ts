/**
 * Caching and single-flight for client_credentials access tokens. The HTTP request itself is made
 * by `UpstreamClient` (through its transport, with its deadlines and error mapping) through the
 * `fetch` function given here.
 */

/** What the token endpoint answered, already validated. */
export interface FetchedToken {
  /** The access token, without a leading `Bearer `. */
  value: string;
  /** Its lifetime from the answer's `expires_in`, seconds; null when the answer had none. */
  expiresInSeconds: number | null;
}

/** Longest head start of a refresh before the token expires, ms. */
const MAX_REFRESH_MARGIN_MS = 60_000;

interface CachedToken {
  value: string;
  /** Epoch ms (by `now`) from which the token is refreshed before use; null: never (until a 401). */
  refreshAt: number | null;
}

/**
 * One client's access token: cached until shortly before `expires_in` runs out (a tenth of its
 * lifetime early, at most 60 s early), dropped on a 401, and fetched by at most one request at a
 * time however many calls need it.
 */
export class ClientCredentialsTokenSource {
  private cached: CachedToken | null = null;
  private inFlight: Promise<string> | null = null;

  /**
   * @param fetch makes one token request bounded by `deadlineAt` (a `performance.now()` time);
   *   rejects with an UpstreamError.
   * @param now clock for expiry, epoch ms.
   */
  constructor(
    private readonly fetch: (deadlineAt: number) => Promise<FetchedToken>,
    private readonly now: () => number,
  ) {}

  /**
   * A token to send: the cached one while it is fresh, else the result of the one in-flight token
   * request. When none is in flight, this caller starts one bounded by `deadlineAt` (its own
   * deadline, so its timeout names the token endpoint) and stops waiting early only when
   * `cancel` aborts; a caller that joins someone else's request stops waiting when `signal`
   * aborts (its own deadline may be earlier). A token fetched for a call is used even when its
   * `expires_in` is 0.
   * @throws the token request's UpstreamError; the abort reason when the caller stops waiting.
   */
  get(options: { signal: AbortSignal; cancel?: AbortSignal; deadlineAt: number }): Promise<string> {
    const cached = this.cached;
    if (cached !== null && (cached.refreshAt === null || this.now() < cached.refreshAt))
      return Promise.resolve(cached.value);
    if (this.inFlight !== null) return untilAborted(this.inFlight, options.signal);
    const requestedAt = this.now();
    const request = this.fetch(options.deadlineAt).then((token) => {
      this.cached = { value: token.value, refreshAt: refreshTime(requestedAt, token.expiresInSeconds) };
      return token.value;
    });
    this.inFlight = request;
    // Cleared whatever the outcome (this also marks a failure nobody waits for any more as handled).
    request.then(
      () => this.clearInFlight(request),
      () => this.clearInFlight(request),
    );
    return options.cancel === undefined ? request : untilAborted(request, options.cancel);
  }

  /** Forgets `value` after the upstream refused it (401), unless a newer token already replaced it. */
  invalidate(value: string): void {
    if (this.cached?.value === value) this.cached = null;
  }

  private clearInFlight(request: Promise<string>): void {
    if (this.inFlight === request) this.inFlight = null;
  }
}

/** The lifetime counts from when the token was requested: the answer can only be younger. */
function refreshTime(requestedAt: number, expiresInSeconds: number | null): number | null {
  if (expiresInSeconds === null) return null;
  const lifetimeMs = expiresInSeconds * 1000;
  return requestedAt + lifetimeMs - Math.min(MAX_REFRESH_MARGIN_MS, lifetimeMs / 10);
}

const ABORTED: unique symbol = Symbol('aborted');

/** `promise`, or the reason of `signal` when it aborts first. */
async function untilAborted(promise: Promise<string>, signal: AbortSignal): Promise<string> {
  signal.throwIfAborted();
  let onAbort = noop;
  const aborted = new Promise<typeof ABORTED>((resolve) => {
    onAbort = () => resolve(ABORTED);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const first = await Promise.race([promise, aborted]);
    if (first === ABORTED) throw signal.reason;
    return first;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

function noop(): void {}

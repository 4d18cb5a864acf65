/**
 * What stops one upstream call: its deadline or its caller, once. It does what the client needs of an AbortSignal
 * (`aborted`, `reason`, listeners) without being an EventTarget, whose listeners are a list searched on every add and
 * remove: a sweep makes thousands of calls, many sharing one stop (a replica's shutdown). A real AbortSignal that
 * follows it is made only when something needs one ({@link CallStop.signal}: a token request, a retry policy after a
 * failure).
 */
export class CallStop {
  aborted = false;
  reason: unknown = undefined;
  /** A Set: one stop may be shared by many calls (a replica's shutdown), each adding and removing a listener. */
  private listeners = new Set<(reason: unknown) => void>();
  private controller: AbortController | null = null;

  /** Aborts with `reason` and calls the listeners, in the order they were added; later calls do nothing. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.listeners;
    this.listeners = new Set();
    // Every listener runs even if one throws (as with an EventTarget); the first error is thrown after them all.
    let failure: { error: unknown } | null = null;
    for (const listener of listeners) {
      try {
        listener(reason);
      } catch (error) {
        failure ??= { error };
      }
    }
    this.controller?.abort(reason);
    if (failure !== null) throw failure.error;
  }

  /**
   * Calls `listener` once when the stop aborts (never if it already has). Like an EventTarget's, one function added
   * twice is one listener.
   * @returns a function that removes the listener
   */
  onAbort(listener: (reason: unknown) => void): () => void {
    if (this.aborted) return noop;
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** An AbortSignal that aborts with this stop (with the same reason), made on first use. */
  get signal(): AbortSignal {
    if (this.controller === null) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }
}

function noop(): void {}

/** Calls `onAbort` once when `external` aborts; returns the function that stops listening. */
export function listenForAbort(external: AbortSignal | CallStop | undefined, onAbort: () => void): () => void {
  if (external === undefined) return noop;
  if (external instanceof CallStop) return external.onAbort(onAbort);
  external.addEventListener('abort', onAbort, { once: true });
  return () => external.removeEventListener('abort', onAbort);
}

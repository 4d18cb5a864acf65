import type { RetryPolicy } from 'cockatiel';

/**
 * Runs `attempt` once and, only if it throws, hands that failure to the policy `buildPolicy` makes, as the policy's
 * own first attempt; later attempts call `attempt` again. The decisions and waits are those of the policy wrapping
 * every attempt, but the common case, a first attempt that succeeds, builds no policy: a sweep makes thousands of
 * upstream calls and final writes, nearly all of which succeed at once.
 * @param signal passed to the policy's `execute`, which stops retrying once it aborts; a function is called only
 *   when the policy is built, so the common case needs no signal
 * @throws what the policy throws: the last attempt's error, or the first one when the policy does not handle it
 */
export async function retryAfterFirstFailure<T>(
  attempt: () => Promise<T>,
  buildPolicy: () => RetryPolicy,
  signal?: AbortSignal | (() => AbortSignal),
): Promise<T> {
  try {
    return await attempt();
  } catch (firstError) {
    let replayed = false;
    return buildPolicy().execute(
      () => {
        if (replayed) return attempt();
        replayed = true;
        throw firstError;
      },
      typeof signal === 'function' ? signal() : signal,
    );
  }
}

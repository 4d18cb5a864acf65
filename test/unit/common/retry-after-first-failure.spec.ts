import { ConstantBackoff, handleAll, retry } from 'cockatiel';
import { describe, expect, it } from 'vitest';
import { retryAfterFirstFailure } from '../../../src/common/retry-after-first-failure';

describe('retryAfterFirstFailure', () => {
  it('builds no policy when the first attempt succeeds', async () => {
    let built = 0;
    const result = await retryAfterFirstFailure(
      async () => 'ok',
      () => {
        built += 1;
        return retry(handleAll, { maxAttempts: 3 });
      },
    );
    expect([result, built]).toStrictEqual(['ok', 0]);
  });

  it("hands the first failure to the policy as its first attempt: the policy's limit counts it", async () => {
    const errors: string[] = [];
    let calls = 0;
    const failure = retryAfterFirstFailure(
      async () => {
        calls += 1;
        throw new Error(`attempt ${calls}`);
      },
      () => {
        const policy = retry(handleAll, { maxAttempts: 2, backoff: new ConstantBackoff(1) });
        policy.onRetry((reason) => errors.push('error' in reason ? reason.error.message : 'value'));
        return policy;
      },
    );
    await expect(failure).rejects.toThrow('attempt 3');
    // One policy attempt replays the first failure, then 2 retries call again: 3 calls in all, as a policy from the start.
    expect([calls, errors]).toStrictEqual([3, ['attempt 1', 'attempt 2']]);
  });

  it('asks for a signal given as a function only when it builds the policy, and stops retrying once it aborts', async () => {
    let asked = 0;
    const controller = new AbortController();
    const signal = () => {
      asked += 1;
      return controller.signal;
    };
    await retryAfterFirstFailure(
      async () => 'ok',
      () => retry(handleAll, { maxAttempts: 3 }),
      signal,
    );
    expect(asked).toBe(0);
    let calls = 0;
    const failure = retryAfterFirstFailure(
      async () => {
        calls += 1;
        if (calls === 2) controller.abort(new Error('stopped'));
        throw new Error(`attempt ${calls}`);
      },
      () => retry(handleAll, { maxAttempts: 5, backoff: new ConstantBackoff(1) }),
      signal,
    );
    await expect(failure).rejects.toThrow();
    expect([asked, calls]).toStrictEqual([1, 2]);
  });
});

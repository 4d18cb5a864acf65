import { Injectable, type ExecutionContext } from '@nestjs/common';
import { ThrottlerGuard, type ThrottlerLimitDetail } from '@nestjs/throttler';
import { PROBLEM_TYPES, ProblemException } from '../problem';

/**
 * @nestjs/throttler's guard, answering its 429 as problem+json with `Retry-After` (seconds until the caller's
 * window lets requests through again). Who counts as the caller is decided in AccessModule (`getTracker`).
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  protected override throwThrottlingException(_context: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    const retryAfter = Math.max(1, Math.ceil(detail.timeToBlockExpire));
    return Promise.reject(
      new ProblemException(
        {
          type: PROBLEM_TYPES.rateLimited,
          title: 'Too Many Requests',
          status: 429,
          detail: `More than ${detail.limit} requests per minute from this caller; retry after ${retryAfter} s.`,
        },
        { 'Retry-After': String(retryAfter) },
      ),
    );
  }
}

import type { OnApplicationShutdown } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';

/** What `increment` answers; the shape of @nestjs/throttler's `ThrottlerStorageRecord`. */
export interface ThrottleRecord {
  totalHits: number;
  /** Seconds until the caller's window is reported reset (`X-RateLimit-Reset`). */
  timeToExpire: number;
  isBlocked: boolean;
  /** Seconds until a block ends (`Retry-After`); 0 or less when not blocked. */
  timeToBlockExpire: number;
}

/** A window of hits is kept in at most this many buckets, whatever the limit. */
const BUCKETS_PER_WINDOW = 100;

interface Entry {
  /** Expiry of each bucket (ms since epoch), oldest first, from `head` on. */
  expiries: number[];
  counts: number[];
  head: number;
  total: number;
  expiresAt: number;
  isBlocked: boolean;
  blockExpiresAt: number;
  ttl: number;
}

/**
 * @nestjs/throttler storage with the semantics of its in-memory `ThrottlerStorageService` (a sliding window of
 * `ttl`, a block of `blockDuration` once the hits exceed the limit, the same header values), in constant time and
 * memory per caller. The stock service keeps one timestamp per hit and filters them all on every request, which
 * costs O(limit) per request, so a high limit slows every request. Here hits are counted in at most
 * {@link BUCKETS_PER_WINDOW} buckets per window; a hit expires at most ttl/100 later than exactly.
 */
export class BucketedThrottlerStorage implements ThrottlerStorage, OnApplicationShutdown {
  private readonly entries = new Map<string, Entry>();
  private sweeper: NodeJS.Timeout | undefined;

  increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottleRecord> {
    return Promise.resolve(this.hit(key, ttl, limit, blockDuration, throttlerName));
  }

  /** `increment` without the promise, for the facade's fast read path. */
  hit(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
    now = Date.now(),
  ): ThrottleRecord {
    this.ensureSweeper(ttl);
    const id = `${throttlerName}\u0000${key}`;
    let entry = this.entries.get(id);
    if (!entry) {
      entry = {
        expiries: [],
        counts: [],
        head: 0,
        total: 0,
        expiresAt: now + ttl,
        isBlocked: false,
        blockExpiresAt: 0,
        ttl,
      };
      this.entries.set(id, entry);
    }
    prune(entry, now);
    if (entry.expiresAt - now <= 0) entry.expiresAt = now + ttl;
    const timeToExpire = Math.ceil((entry.expiresAt - now) / 1000);
    if (blockDuration <= 0) {
      // The stock service's behaviour without blocking: a hit at the limit is refused and not counted.
      const isBlocked = entry.total >= limit;
      if (!isBlocked) addHit(entry, now, ttl);
      const oldest = entry.head < entry.expiries.length ? entry.expiries[entry.head] : entry.expiresAt;
      return {
        totalHits: entry.total + (isBlocked ? 1 : 0),
        timeToExpire,
        isBlocked,
        timeToBlockExpire: isBlocked ? Math.ceil((oldest - now) / 1000) : 0,
      };
    }
    if (!entry.isBlocked) addHit(entry, now, ttl);
    if (entry.total > limit && !entry.isBlocked) {
      entry.isBlocked = true;
      entry.blockExpiresAt = now + blockDuration;
    }
    const timeToBlockExpire = Math.ceil((entry.blockExpiresAt - now) / 1000);
    if (timeToBlockExpire <= 0 && entry.isBlocked) {
      entry.isBlocked = false;
      entry.expiries = [];
      entry.counts = [];
      entry.head = 0;
      entry.total = 0;
      addHit(entry, now, ttl);
    }
    return { totalHits: entry.total, timeToExpire, isBlocked: entry.isBlocked, timeToBlockExpire };
  }

  onApplicationShutdown(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    this.entries.clear();
  }

  /** Callers idle for a whole window are forgotten, so that memory follows the active callers. */
  private ensureSweeper(ttl: number): void {
    if (this.sweeper) return;
    this.sweeper = setInterval(
      () => {
        const now = Date.now();
        for (const [id, entry] of this.entries) {
          prune(entry, now);
          if (entry.total === 0 && !entry.isBlocked && entry.expiresAt <= now) this.entries.delete(id);
          else if (entry.isBlocked && entry.blockExpiresAt <= now && entry.total === 0) this.entries.delete(id);
        }
      },
      Math.max(1_000, ttl),
    );
    this.sweeper.unref();
  }
}

function addHit(entry: Entry, now: number, ttl: number): void {
  const resolution = Math.max(1, Math.ceil(ttl / BUCKETS_PER_WINDOW));
  const expiry = (Math.floor(now / resolution) + 1) * resolution + ttl;
  const last = entry.expiries.length - 1;
  if (last >= entry.head && entry.expiries[last] === expiry) {
    entry.counts[last]++;
  } else {
    entry.expiries.push(expiry);
    entry.counts.push(1);
  }
  entry.total++;
}

function prune(entry: Entry, now: number): void {
  while (entry.head < entry.expiries.length && entry.expiries[entry.head] <= now) {
    entry.total -= entry.counts[entry.head];
    entry.head++;
  }
  if (entry.head > 32 && entry.head * 2 > entry.expiries.length) {
    entry.expiries = entry.expiries.slice(entry.head);
    entry.counts = entry.counts.slice(entry.head);
    entry.head = 0;
  }
}

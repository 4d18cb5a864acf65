import { ThrottlerStorageService } from '@nestjs/throttler';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BucketedThrottlerStorage } from '../../../src/http/auth/bucketed-throttler-storage';

describe('BucketedThrottlerStorage', () => {
  afterEach(() => vi.useRealTimers());

  it('answers like the stock storage: counts, blocks past the limit for blockDuration, then starts afresh', async () => {
    vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') });
    const ours = new BucketedThrottlerStorage();
    const stock = new ThrottlerStorageService();
    try {
      const both = async () => {
        const a = await ours.increment('k', 60_000, 3, 60_000, 'default');
        const b = await stock.increment('k', 60_000, 3, 60_000, 'default');
        expect(a).toStrictEqual(b);
        return a;
      };
      expect((await both()).totalHits).toBe(1);
      await both();
      expect(await both()).toMatchObject({ totalHits: 3, isBlocked: false, timeToExpire: 60 });
      vi.advanceTimersByTime(10_000);
      expect(await both()).toMatchObject({ totalHits: 4, isBlocked: true, timeToBlockExpire: 60, timeToExpire: 50 });
      vi.advanceTimersByTime(30_000);
      expect(await both()).toMatchObject({ isBlocked: true, timeToBlockExpire: 30 });
      vi.advanceTimersByTime(31_000);
      expect(await both()).toMatchObject({ totalHits: 1, isBlocked: false });
    } finally {
      ours.onApplicationShutdown();
      stock.onApplicationShutdown();
    }
  });

  it('slides: hits leave the window a ttl after they came (to within ttl/100), in constant memory', () => {
    const storage = new BucketedThrottlerStorage();
    try {
      const t0 = 1_000_000;
      for (let i = 0; i < 100_000; i++) storage.hit('k', 60_000, 1_000_000, 60_000, 'default', t0 + i * 0.5);
      expect(storage.hit('k', 60_000, 1_000_000, 60_000, 'default', t0 + 50_000).totalHits).toBe(100_001);
      // The first half of the hits (t0 .. t0+25 s) has left the window 60 s later, give or take one 600 ms bucket.
      const later = storage.hit('k', 60_000, 1_000_000, 60_000, 'default', t0 + 85_000);
      expect(later.totalHits).toBeGreaterThan(50_000 - 1_300);
      expect(later.totalHits).toBeLessThan(50_000 + 1_300);
      expect(storage.hit('k', 60_000, 1_000_000, 60_000, 'default', t0 + 200_000).totalHits).toBe(1);
    } finally {
      storage.onApplicationShutdown();
    }
  });

  it('keeps callers apart by throttler name and key', () => {
    const storage = new BucketedThrottlerStorage();
    try {
      storage.hit('a', 1_000, 1, 1_000, 'default', 0);
      expect(storage.hit('a', 1_000, 1, 1_000, 'default', 1).isBlocked).toBe(true);
      expect(storage.hit('b', 1_000, 1, 1_000, 'default', 1).isBlocked).toBe(false);
      expect(storage.hit('a', 1_000, 1, 1_000, 'other', 1).isBlocked).toBe(false);
    } finally {
      storage.onApplicationShutdown();
    }
  });
});

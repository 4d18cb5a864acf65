import { describe, expect, it } from 'vitest';
import { StaleBounds, staleBoundOf } from '../../../src/events/stale-bounds';
import { intervalThreshold } from '../../../src/observability/integration-states';
import type { IntegrationStateRow } from '../../../src/persistence/metrics.repository';

const at = (iso: string) => Date.parse(iso);
const DAY = 86_400_000;

/** The interval rule's threshold for a baseline (ms since the epoch), as the staleness check computes it. */
function thresholdAt(cron: string, timeZone: string, baselineMs: number): number {
  return intervalThreshold({ cron, timeZone } as IntegrationStateRow, baselineMs / 1000);
}

describe('staleBoundOf', () => {
  it('bounds a yearly schedule by three years of 365 days, for baselines from a day back to an hour ahead', () => {
    const now = at('2026-12-05T07:00:00.000Z');
    expect(staleBoundOf({ cron: '0 0 0 1 1 *', timeZone: 'UTC' }, now)).toStrictEqual({
      cron: '0 0 0 1 1 *',
      timeZone: 'UTC',
      sinceMs: now - DAY,
      untilMs: now + 3_600_000,
      minThresholdMs: 3 * 365 * DAY,
    });
  });

  it('bounds a five-minute schedule by fifteen minutes, from two periods back to one ahead', () => {
    const now = at('2026-12-05T07:00:00.000Z');
    expect(staleBoundOf({ cron: '0 */5 * * * *', timeZone: 'UTC' }, now)).toStrictEqual({
      cron: '0 */5 * * * *',
      timeZone: 'UTC',
      sinceMs: now - 600_000,
      untilMs: now + 300_000,
      minThresholdMs: 900_000,
    });
  });

  it('takes the shortest gap of the window: a daily 02:30 in Chicago across the spring-forward night', () => {
    // 2027-03-14 02:30 does not exist there; that day fires at 03:00 CDT (08:00Z), 23.5 h after 02:30 CST the day before.
    const now = at('2027-03-13T12:00:00.000Z');
    const bound = staleBoundOf({ cron: '0 30 2 * * *', timeZone: 'America/Chicago' }, now);
    expect(bound).toStrictEqual({
      cron: '0 30 2 * * *',
      timeZone: 'America/Chicago',
      sinceMs: now - DAY,
      untilMs: now + 3_600_000,
      minThresholdMs: 3 * 23.5 * 3_600_000,
    });
    // A day earlier, before the window, the gap is a whole day.
    expect(thresholdAt('0 30 2 * * *', 'America/Chicago', at('2027-03-11T12:00:00.000Z'))).toBe(3 * DAY);
  });

  it('is never above the threshold of a baseline in its window, and equal to the smallest', () => {
    const cases = [
      { cron: '0 */5 * * * *', timeZone: 'UTC', now: at('2026-12-05T07:02:30.250Z') },
      { cron: '*/10 * * * * *', timeZone: 'Europe/Berlin', now: at('2027-03-28T00:59:55.000Z') },
      { cron: '0 0,1 * * * *', timeZone: 'UTC', now: at('2026-12-05T07:00:30.000Z') },
      { cron: '0 30 2 * * *', timeZone: 'America/Chicago', now: at('2027-11-07T06:00:00.000Z') },
    ];
    for (const { cron, timeZone, now } of cases) {
      const bound = staleBoundOf({ cron, timeZone }, now);
      if (bound === null) throw new Error(`no bound for ${cron}`);
      const step = Math.max(250, Math.floor((bound.untilMs - bound.sinceMs) / 400));
      let smallest = Number.POSITIVE_INFINITY;
      for (let baseline = bound.sinceMs; baseline <= bound.untilMs; baseline += step) {
        smallest = Math.min(smallest, thresholdAt(cron, timeZone, baseline));
      }
      smallest = Math.min(smallest, thresholdAt(cron, timeZone, bound.untilMs));
      expect({ cron, smallest: smallest >= bound.minThresholdMs }).toStrictEqual({ cron, smallest: true });
      expect({ cron, equal: smallest }).toStrictEqual({ cron, equal: bound.minThresholdMs });
    }
  });

  it('gives no bound for a schedule the cron package cannot read', () => {
    expect(staleBoundOf({ cron: 'not a cron', timeZone: 'UTC' }, at('2026-12-05T07:00:00.000Z'))).toBe(null);
  });
});

describe('StaleBounds', () => {
  const schedules = [
    { cron: '0 */5 * * * *', timeZone: 'UTC' },
    { cron: '0 0 0 1 1 *', timeZone: 'UTC' },
    { cron: '0 */10 * * * *', timeZone: 'UTC' },
  ];

  it('computes two bounds per call, then keeps each until its window has passed', () => {
    const bounds = new StaleBounds();
    const now = at('2026-12-05T07:00:00.000Z');
    expect(bounds.current(schedules, now).map((b) => [b.cron, b.untilMs - now])).toStrictEqual([
      ['0 */5 * * * *', 300_000],
      ['0 0 0 1 1 *', 3_600_000],
    ]);
    expect(bounds.current(schedules, now + 1_000).map((b) => [b.cron, b.untilMs - now])).toStrictEqual([
      ['0 */5 * * * *', 300_000],
      ['0 0 0 1 1 *', 3_600_000],
      ['0 */10 * * * *', 600_000 + 1_000],
    ]);
    const later = now + 300_001;
    expect(bounds.current(schedules, later).map((b) => [b.cron, b.sinceMs])).toStrictEqual([
      ['0 */5 * * * *', later - 600_000],
      ['0 0 0 1 1 *', now - DAY],
      ['0 */10 * * * *', now + 1_000 - 1_200_000],
    ]);
  });

  it('leaves out a schedule without a bound and tries it again after ten minutes, within the same budget', () => {
    const bounds = new StaleBounds();
    const now = at('2026-12-05T07:00:00.000Z');
    const bad = [{ cron: 'not a cron', timeZone: 'UTC' }, ...schedules];
    expect(bounds.current(bad, now).map((b) => b.cron)).toStrictEqual(['0 */5 * * * *']);
    expect(bounds.current(bad, now + 1_000).map((b) => b.cron)).toStrictEqual([
      '0 */5 * * * *',
      '0 0 0 1 1 *',
      '0 */10 * * * *',
    ]);
    // The failed schedule's retry takes one of the two computations: the ten-minute one, expired too, waits.
    expect(bounds.current(bad, now + 700_000).map((b) => [b.cron, b.sinceMs - now])).toStrictEqual([
      ['0 */5 * * * *', 100_000],
      ['0 0 0 1 1 *', 1_000 - DAY],
      ['0 */10 * * * *', 1_000 - 1_200_000],
    ]);
  });
});

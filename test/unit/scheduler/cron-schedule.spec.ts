import { describe, expect, it } from 'vitest';
import { nextFireTime } from '../../../src/scheduler/cron-schedule';

/** Walks the schedule from `fromIso` like the ticker does: each next fire time starts from the previous one. */
function fireTimes(cron: string, timeZone: string, fromIso: string, count: number): string[] {
  const out: string[] = [];
  let at = new Date(fromIso);
  for (let i = 0; i < count; i++) {
    at = nextFireTime({ cron, timeZone }, at);
    out.push(at.toISOString());
  }
  return out;
}

describe('nextFireTime', () => {
  it('is strictly after the given instant, to the second', () => {
    expect(fireTimes('*/10 * * * * *', 'UTC', '2026-03-06T12:00:10.000Z', 2)).toStrictEqual([
      '2026-03-06T12:00:20.000Z',
      '2026-03-06T12:00:30.000Z',
    ]);
    expect(fireTimes('* * * * * *', 'UTC', '2026-03-06T12:00:00.999Z', 1)).toStrictEqual(['2026-03-06T12:00:01.000Z']);
  });

  it('fires a daily 01:30 America/Chicago job once across the fall-back hour (2026-11-01)', () => {
    expect(fireTimes('0 30 1 * * *', 'America/Chicago', '2026-10-31T00:00:00Z', 3)).toStrictEqual([
      '2026-10-31T06:30:00.000Z', // 01:30 CDT
      '2026-11-01T06:30:00.000Z', // 01:30 CDT, the first 01:30 of the repeated hour; not again at 07:30Z
      '2026-11-02T07:30:00.000Z', // 01:30 CST
    ]);
  });

  it('fires a daily 02:30 America/Chicago job after the spring-forward gap (2026-03-08) and keeps going', () => {
    expect(fireTimes('0 30 2 * * *', 'America/Chicago', '2026-03-07T00:00:00Z', 3)).toStrictEqual([
      '2026-03-07T08:30:00.000Z', // 02:30 CST
      '2026-03-08T08:00:00.000Z', // 02:30 does not exist; fires at 03:00 CDT, the first instant after the gap
      '2026-03-09T07:30:00.000Z', // 02:30 CDT
    ]);
  });

  it('keeps elapsed-time schedules regular across fall-back', () => {
    expect(fireTimes('0 */30 * * * *', 'America/Chicago', '2026-11-01T05:45:00Z', 4)).toStrictEqual([
      '2026-11-01T06:00:00.000Z', // 01:00 CDT
      '2026-11-01T06:30:00.000Z', // 01:30 CDT
      '2026-11-01T07:00:00.000Z', // 01:00 CST
      '2026-11-01T07:30:00.000Z', // 01:30 CST
    ]);
  });

  it('evaluates the cron in the zone, not in UTC', () => {
    expect(fireTimes('0 0 6 * * *', 'Asia/Kolkata', '2026-01-01T00:00:00Z', 1)).toStrictEqual([
      '2026-01-01T00:30:00.000Z',
    ]);
  });

  it('answers the same whatever the milliseconds of `after` (memoized by second)', () => {
    const a = nextFireTime({ cron: '*/5 * * * * *', timeZone: 'UTC' }, new Date('2026-01-01T00:00:01.001Z'));
    const b = nextFireTime({ cron: '*/5 * * * * *', timeZone: 'UTC' }, new Date('2026-01-01T00:00:01.999Z'));
    expect(a.toISOString()).toBe('2026-01-01T00:00:05.000Z');
    expect(b.toISOString()).toBe('2026-01-01T00:00:05.000Z');
    a.setTime(0);
    expect(
      nextFireTime({ cron: '*/5 * * * * *', timeZone: 'UTC' }, new Date('2026-01-01T00:00:01.500Z')).toISOString(),
    ).toBe('2026-01-01T00:00:05.000Z');
  });
});

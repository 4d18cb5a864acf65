import { CronTime } from 'cron';
import type { ScheduleSpec } from '../persistence/types';

const cronTimes = new Map<string, CronTime>();

/** One key per (cron, zone): the schedules that fire at the same instants. */
export function scheduleKey(schedule: ScheduleSpec): string {
  return `${schedule.cron}\u0000${schedule.timeZone}`;
}
const nextFireCache = new Map<string, Date>();
/** Bounds the memo; one sweep of many integrations on a few schedules needs only a few entries. */
const NEXT_FIRE_CACHE_LIMIT = 10_000;

/**
 * The first fire time of `schedule` strictly after `after`, evaluated in the schedule's IANA zone by the `cron`
 * package that @nestjs/schedule ships (seconds field first). Across a fall-back hour a wall-clock time fires once;
 * a time skipped by spring-forward fires at the first instant after the gap, so it is never skipped forever.
 *
 * Memoized per (cron, zone, whole second of `after`): cron fire times are whole seconds, so the answer depends on
 * `after` only to the second, and one computation (about 1 ms in `cron`) serves every integration of a sweep that
 * shares a schedule and a due time.
 * @param after a UTC instant
 * @returns a UTC instant with zero milliseconds
 * @throws Error when the cron or zone is invalid (config validation rejects those at boot)
 */
export function nextFireTime(schedule: ScheduleSpec, after: Date): Date {
  const second = Math.floor(after.getTime() / 1000) * 1000;
  const key = `${schedule.cron}\u0000${schedule.timeZone}\u0000${second}`;
  const cached = nextFireCache.get(key);
  if (cached) return new Date(cached.getTime());
  let cronTime = cronTimes.get(scheduleKey(schedule));
  if (!cronTime) {
    cronTime = new CronTime(schedule.cron, schedule.timeZone);
    cronTimes.set(scheduleKey(schedule), cronTime);
  }
  const next = cronTime.getNextDateFrom(new Date(second), schedule.timeZone).toJSDate();
  if (nextFireCache.size >= NEXT_FIRE_CACHE_LIMIT) nextFireCache.clear();
  nextFireCache.set(key, next);
  return new Date(next.getTime());
}

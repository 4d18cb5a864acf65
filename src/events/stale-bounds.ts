import type { ScheduleSpec } from '../persistence/types';
import { nextFireTime, scheduleKey } from '../scheduler/cron-schedule';

/**
 * A lower bound of the 3x-interval staleness threshold of one schedule, for every baseline (last success, else
 * creation) in [sinceMs, untilMs]. An integration on this schedule whose stale flag is off, whose baseline lies in the
 * window and whose age is below the bound cannot be stale: the staleness check need not read it.
 */
export interface StaleBound extends ScheduleSpec {
  sinceMs: number;
  untilMs: number;
  minThresholdMs: number;
}

/** Fire times enumerated at most for one bound; a schedule that would need more gets none, and its rows are read. */
const MAX_FIRES = 24;
/** The window reaches back two periods (an integration that runs on time has its baseline within one), at most this. */
const MAX_LOOKBACK_MS = 86_400_000;
/** A bound serves for one period ahead, between these. */
const MIN_AHEAD_MS = 1_000;
const MAX_AHEAD_MS = 3_600_000;
/** A schedule that got no bound is tried again after this long. */
const RETRY_MS = 600_000;
/** Bounds computed at most per check: each is up to MAX_FIRES fire times of about 0.1 ms, on the event loop. */
const COMPUTED_PER_CALL = 2;

/**
 * The bound of `schedule` for baselines around `nowMs`, or null. The threshold of a baseline `b` is 3 × the gap
 * between the first two fire times after `b` (`intervalThreshold`); the first fire time after `b` is monotonic in
 * `b`, so every first fire time of a baseline in the window is among the consecutive fire times from the window's
 * start's to its end's, and the smallest gap among them bounds every threshold of the window from below.
 */
export function staleBoundOf(schedule: ScheduleSpec, nowMs: number): StaleBound | null {
  try {
    const first = nextFireTime(schedule, new Date(nowMs));
    const period = nextFireTime(schedule, first).getTime() - first.getTime();
    const sinceMs = nowMs - Math.min(2 * period, MAX_LOOKBACK_MS);
    const untilMs = nowMs + Math.min(Math.max(period, MIN_AHEAD_MS), MAX_AHEAD_MS);
    const last = nextFireTime(schedule, new Date(untilMs)).getTime();
    let fire = nextFireTime(schedule, new Date(sinceMs));
    let minGapMs = Number.POSITIVE_INFINITY;
    for (let fires = 0; fires < MAX_FIRES; fires++) {
      const next = nextFireTime(schedule, fire);
      minGapMs = Math.min(minGapMs, next.getTime() - fire.getTime());
      if (fire.getTime() >= last) {
        return { cron: schedule.cron, timeZone: schedule.timeZone, sinceMs, untilMs, minThresholdMs: 3 * minGapMs };
      }
      fire = next;
    }
    return null;
  } catch {
    // A schedule the cron package can't evaluate (or whose next fire time is years away) gets no bound.
    return null;
  }
}

/**
 * The bounds of a replica's schedules, each kept until its window has passed. A bound never goes wrong as time
 * passes (it only speaks of baselines in its window), so an old one is only less useful, and at most
 * COMPUTED_PER_CALL are computed per call so that a check never holds the event loop for long.
 */
export class StaleBounds {
  private readonly known = new Map<string, { bound: StaleBound | null; renewAtMs: number }>();

  /** The bounds to use now for `schedules` (those computed so far). */
  current(schedules: Iterable<ScheduleSpec>, nowMs: number): StaleBound[] {
    const bounds: StaleBound[] = [];
    let budget = COMPUTED_PER_CALL;
    for (const schedule of schedules) {
      const key = scheduleKey(schedule);
      let entry = this.known.get(key);
      if ((entry === undefined || nowMs > entry.renewAtMs) && budget > 0) {
        budget--;
        const bound = staleBoundOf(schedule, nowMs);
        entry = { bound, renewAtMs: bound === null ? nowMs + RETRY_MS : bound.untilMs };
        this.known.set(key, entry);
      }
      if (entry?.bound) bounds.push(entry.bound);
    }
    return bounds;
  }
}

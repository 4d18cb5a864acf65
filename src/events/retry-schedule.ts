/** Each wait is spread over ±20 % of itself, so that deliveries failed together don't all retry together. */
export const RETRY_JITTER = 0.2;

/**
 * The wait before the next attempt of a delivery that has failed `attempts` times, ms; null when the schedule is
 * spent and the delivery is exhausted.
 * @param random a number in [0, 1)
 */
export function nextRetryDelayMs(schedule: readonly number[], attempts: number, random: number): number | null {
  if (attempts < 1 || attempts > schedule.length) return null;
  const base = schedule[attempts - 1];
  return Math.round(base * (1 - RETRY_JITTER + 2 * RETRY_JITTER * random));
}

import type { IntegrationRecord } from '../persistence/types';
import { nextFireTime } from '../scheduler/cron-schedule';

/** How an integration looks to an operator, worst first. */
export type Health = 'disabled' | 'paused' | 'failing' | 'stale' | 'fresh';

export interface HealthAssessment {
  health: Health;
  /** Since when staleness counts: the last success, or before one, when the integration was configured. UTC. */
  staleSince: Date;
  /** The staleness threshold applied, ms: STALE_AFTER_MS, or 3x the schedule's interval (as the metrics use). */
  staleAfterMs: number;
}

/**
 * The health of one integration at `now`: `disabled` (left the configuration), `paused`, `failing` (the last run
 * failed: consecutive failures), `stale` (its last success is older than the threshold the staleness gauge and
 * alert use), else `fresh`.
 */
export function assessHealth(
  record: IntegrationRecord,
  createdAt: Date,
  now: Date,
  staleAfterMs: number | null,
): HealthAssessment {
  const staleSince = record.lastSucceededAt ?? createdAt;
  const threshold = staleAfterMs ?? 3 * intervalMs(record, staleSince);
  const health: Health = !record.enabled
    ? 'disabled'
    : record.paused
      ? 'paused'
      : record.consecutiveFailures > 0
        ? 'failing'
        : now.getTime() - staleSince.getTime() > threshold
          ? 'stale'
          : 'fresh';
  return { health, staleSince, staleAfterMs: threshold };
}

/** The gap between the first two fire times after `after`, ms. */
function intervalMs(schedule: { cron: string; timeZone: string }, after: Date): number {
  const first = nextFireTime(schedule, after);
  return nextFireTime(schedule, first).getTime() - first.getTime();
}

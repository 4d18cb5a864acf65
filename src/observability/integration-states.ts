import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config';
import { MetricsRepository, type IntegrationStateRow } from '../persistence/metrics.repository';
import { nextFireTime } from '../scheduler/cron-schedule';

/** How long one read of the shared integration state serves scrapes and probes, ms. */
export const STATE_CACHE_MS = 2_000;

/**
 * The integrations' shared state from Postgres, read at most once per {@link STATE_CACHE_MS}: a scrape and a
 * readiness probe arriving together share one query, and every replica reports what the database says rather
 * than what it happened to execute itself.
 */
@Injectable()
export class IntegrationStates {
  private cached: { at: number; rows: Promise<IntegrationStateRow[]> } | null = null;

  constructor(private readonly repository: MetricsRepository) {}

  /** The rows, from the cache when it is younger than STATE_CACHE_MS. A failed read is not cached. */
  read(): Promise<IntegrationStateRow[]> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < STATE_CACHE_MS) return this.cached.rows;
    const rows = this.repository.integrationStates();
    const entry = { at: now, rows };
    this.cached = entry;
    rows.catch(() => {
      if (this.cached === entry) this.cached = null;
    });
    return rows;
  }
}

/** An integration whose last success is older than its staleness threshold. */
export interface StaleIntegration {
  sourceSystemId: number;
  integrationName: string;
  /** UTC ISO time of the last success; null when it never succeeded (then the baseline is when it was configured). */
  lastSucceededAt: string | null;
  /** Seconds since the last success (or since it was configured). */
  staleForSeconds: number;
  /** The threshold applied, ms: STALE_AFTER_MS, or 3x the schedule's interval. */
  staleAfterMs: number;
}

/**
 * The enabled, unpaused integrations whose last success (or, before one, their creation) is older than
 * `config.observability.staleAfterMs`, or when that is null, 3x their interval: the gap between the two fire times
 * that follow the last success in the integration's cron and zone. Paused integrations are left out: nobody expects
 * them to run.
 */
@Injectable()
export class StalenessCheck {
  constructor(
    private readonly states: IntegrationStates,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async staleIntegrations(): Promise<StaleIntegration[]> {
    return findStale(await this.states.read(), this.config.observability.staleAfterMs);
  }
}

/**
 * The threshold of the 3x-interval rule for one integration, ms, from its schedule and staleness baseline (s since
 * the epoch). Callers that see the same integrations again may remember the answers (see StaleThresholds).
 */
export type ThresholdOf<R extends IntegrationStateRow = IntegrationStateRow> = (
  row: R,
  baselineSeconds: number,
) => number;

/** 3x the gap between the two fire times that follow the baseline. */
export const intervalThreshold: ThresholdOf = (row, baselineSeconds) =>
  3 * intervalMs(row, new Date(baselineSeconds * 1000));

/**
 * Pure part of {@link StalenessCheck}, for tests.
 * @param staleAfterMs fixed threshold, ms, or null for 3x interval
 * @param thresholdOf the 3x-interval rule's threshold, when `staleAfterMs` is null
 */
export function findStale<R extends IntegrationStateRow>(
  rows: R[],
  staleAfterMs: number | null,
  thresholdOf: ThresholdOf<R> = intervalThreshold,
): StaleIntegration[] {
  const stale: StaleIntegration[] = [];
  for (const row of rows) {
    if (row.paused) continue;
    const baselineSeconds = row.lastSucceededAtSeconds ?? row.createdAtSeconds;
    const threshold = staleAfterMs ?? thresholdOf(row, baselineSeconds);
    const ageSeconds = row.nowSeconds - baselineSeconds;
    if (ageSeconds * 1000 > threshold) {
      stale.push({
        sourceSystemId: row.sourceSystemId,
        integrationName: row.integrationName,
        lastSucceededAt:
          row.lastSucceededAtSeconds === null ? null : new Date(row.lastSucceededAtSeconds * 1000).toISOString(),
        staleForSeconds: Math.round(ageSeconds),
        staleAfterMs: threshold,
      });
    }
  }
  return stale;
}

/** The gap between the first two fire times after `after`, ms. */
function intervalMs(schedule: { cron: string; timeZone: string }, after: Date): number {
  const first = nextFireTime(schedule, after);
  return nextFireTime(schedule, first).getTime() - first.getTime();
}

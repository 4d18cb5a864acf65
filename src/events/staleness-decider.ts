import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config';
import { findStale, intervalThreshold } from '../observability/integration-states';
import type { IntegrationStateRow } from '../persistence/metrics.repository';
import {
  StalenessRepository,
  type StalenessFlip,
  type StalenessRow,
  type StalenessSkip,
} from '../persistence/staleness.repository';
import type { ScheduleSpec } from '../persistence/types';
import { scheduleKey } from '../scheduler/cron-schedule';
import { StaleBounds } from './stale-bounds';
import { EVENT_TYPES, subjectOf } from './event-types';

/** How often each replica checks staleness, ms. */
export const STALENESS_CHECK_MS = 2_000;
/**
 * Integrations read per query of a check. Each page is decoded and decided in a task of its own, small enough to
 * take about a millisecond, so that a check of thousands of integrations never holds the event loop, and the
 * requests waiting on it, for long: the work of one check grows with the number of integrations, a page's does not.
 */
export const STALENESS_PAGE_ROWS = 250;

/** A remembered 3x-interval threshold, with what it was computed from. */
interface KnownThreshold {
  cron: string;
  timeZone: string;
  baselineSeconds: number;
  thresholdMs: number;
  /** The check that last used it. */
  check: number;
}

/**
 * The 3x-interval thresholds of the integrations, remembered per integration with the schedule and baseline they
 * were computed for: a threshold changes only when its integration succeeds or is rescheduled, and computing one
 * (two fire times in `cron`) costs more than the rest of the decision. Thresholds not used by a whole check (the
 * integration was disabled or removed) are forgotten at its end.
 */
export class StaleThresholds {
  private readonly known = new Map<string, KnownThreshold>();
  private check = 0;

  /** Starts a check. */
  begin(): void {
    this.check++;
  }

  /**
   * Ends a check: what it did not use is forgotten (an integration the check left out as surely fresh gets its
   * threshold computed again when it is read).
   */
  end(): void {
    // forEach rather than for…of: no [key, value] array per entry, for thousands of entries every check.
    this.known.forEach((known, id) => {
      if (known.check !== this.check) this.known.delete(id);
    });
  }

  /** The threshold for one integration, as `intervalThreshold` computes it. */
  readonly of = (row: IntegrationStateRow & { id: string }, baselineSeconds: number): number => {
    const known = this.known.get(row.id);
    if (
      known !== undefined &&
      known.baselineSeconds === baselineSeconds &&
      known.cron === row.cron &&
      known.timeZone === row.timeZone
    ) {
      known.check = this.check;
      return known.thresholdMs;
    }
    const thresholdMs = intervalThreshold(row, baselineSeconds);
    this.known.set(row.id, {
      cron: row.cron,
      timeZone: row.timeZone,
      baselineSeconds,
      thresholdMs,
      check: this.check,
    });
    return thresholdMs;
  };

  /** How many are remembered. */
  get size(): number {
    return this.known.size;
  }
}

/**
 * Emits `tidemark.integration.stale` when an integration's last success gets older than the STALE_AFTER_MS rule
 * (the readiness check's rule), and `tidemark.integration.recovered` when a stale one succeeds again. Every replica
 * checks; the flag is flipped by a conditional write, so one replica emits each flip. A paused integration keeps
 * its flag: nobody expects it to run.
 */
@Injectable()
export class StalenessDecider implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Staleness');
  private timer: NodeJS.Timeout | undefined;
  private checking = false;
  private readonly thresholds = new StaleThresholds();
  private readonly bounds = new StaleBounds();
  /** The schedules of this replica's enabled integrations, once each. */
  private readonly schedules: ScheduleSpec[];

  constructor(
    private readonly repository: StalenessRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    const distinct = new Map<string, ScheduleSpec>();
    for (const { enabled, cron, timeZone } of config.integrations ?? []) {
      if (enabled) distinct.set(scheduleKey({ cron, timeZone }), { cron, timeZone });
    }
    this.schedules = [...distinct.values()];
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.check(), STALENESS_CHECK_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /**
   * One check: the integrations that may have to flip, a page at a time (those surely fresh by the fixed threshold or
   * their schedule's bound are left out by the query), then flips and emits what changed, in one statement.
   */
  async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const flips: StalenessFlip[] = [];
      this.thresholds.begin();
      const staleAfterMs = this.config.observability.staleAfterMs;
      const skip: StalenessSkip = {
        staleAfterMs,
        bounds: staleAfterMs === null ? this.bounds.current(this.schedules, Date.now()) : [],
      };
      for (let afterId = '0'; ;) {
        const rows = await this.repository.stalenessRows(afterId, STALENESS_PAGE_ROWS, skip);
        const decided = decideStaleness(rows, staleAfterMs, this.config.events.source, this.thresholds);
        for (const flip of decided) flips.push(flip);
        if (rows.length < STALENESS_PAGE_ROWS) break;
        afterId = rows[rows.length - 1].id;
      }
      this.thresholds.end();
      await this.repository.flipStaleness(flips);
    } catch (error) {
      this.logger.warn(`staleness check failed: ${(error as Error).message}`);
    } finally {
      this.checking = false;
    }
  }
}

/**
 * Pure part of {@link StalenessDecider}: the flips that the rows call for.
 * @param thresholds remembers the 3x-interval thresholds across calls (when `staleAfterMs` is null)
 */
export function decideStaleness(
  rows: readonly StalenessRow[],
  staleAfterMs: number | null,
  source: string,
  thresholds?: StaleThresholds,
): StalenessFlip[] {
  const stale = new Map(
    findStale(rows.map(toStateRow), staleAfterMs, thresholds?.of ?? intervalThreshold).map((s) => [
      `${s.sourceSystemId}/${s.integrationName}`,
      s,
    ]),
  );
  const flips: StalenessFlip[] = [];
  for (const row of rows) {
    if (row.paused) continue;
    const subject = subjectOf(row);
    const found = stale.get(subject);
    if (found && !row.stale) {
      flips.push({
        integrationId: row.id,
        stale: true,
        lastSucceededAtText: row.lastSucceededAtText,
        event: {
          type: EVENT_TYPES.integrationStale,
          source,
          subject,
          integrationId: row.id,
          runId: null,
          data: {
            lastSucceededAt: found.lastSucceededAt,
            staleForSeconds: found.staleForSeconds,
            staleAfterMs: found.staleAfterMs,
          },
        },
      });
    } else if (!found && row.stale) {
      flips.push({
        integrationId: row.id,
        stale: false,
        lastSucceededAtText: row.lastSucceededAtText,
        event: {
          type: EVENT_TYPES.integrationRecovered,
          source,
          subject,
          integrationId: row.id,
          runId: null,
          data: {
            lastSucceededAt:
              row.lastSucceededAtSeconds === null ? null : new Date(row.lastSucceededAtSeconds * 1000).toISOString(),
          },
        },
      });
    }
  }
  return flips;
}

function toStateRow(row: StalenessRow): IntegrationStateRow & { id: string } {
  return {
    id: row.id,
    sourceSystemId: row.sourceSystemId,
    integrationName: row.integrationName,
    cron: row.cron,
    timeZone: row.timeZone,
    paused: row.paused,
    consecutiveFailures: 0,
    lastSucceededAtSeconds: row.lastSucceededAtSeconds,
    watermarkLagSeconds: null,
    createdAtSeconds: row.createdAtSeconds,
    watermarkRegressions: 0,
    nowSeconds: row.nowSeconds,
  };
}

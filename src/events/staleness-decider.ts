import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config';
import { findStale } from '../observability/integration-states';
import type { IntegrationStateRow } from '../persistence/metrics.repository';
import { OutboxRepository, type StalenessFlip, type StalenessRow } from '../persistence/outbox.repository';
import { EVENT_TYPES, subjectOf } from './event-types';

/** How often each replica checks staleness, ms. */
export const STALENESS_CHECK_MS = 2_000;

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

  constructor(
    private readonly repository: OutboxRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.check(), STALENESS_CHECK_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** One check; flips and emits what changed. */
  async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const rows = await this.repository.stalenessRows();
      const flips = decideStaleness(rows, this.config.observability.staleAfterMs, this.config.events.source);
      await this.repository.flipStaleness(flips);
    } catch (error) {
      this.logger.warn(`staleness check failed: ${(error as Error).message}`);
    } finally {
      this.checking = false;
    }
  }
}

/** Pure part of {@link StalenessDecider}: the flips that the rows call for. */
export function decideStaleness(
  rows: readonly StalenessRow[],
  staleAfterMs: number | null,
  source: string,
): StalenessFlip[] {
  const stale = new Map(
    findStale(rows.map(toStateRow), staleAfterMs).map((s) => [`${s.sourceSystemId}/${s.integrationName}`, s]),
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

function toStateRow(row: StalenessRow): IntegrationStateRow {
  return {
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

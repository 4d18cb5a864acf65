import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { TIDEMARK_DATA_SOURCE } from './data-source';

/**
 * One enabled integration's shared state, as every replica reads it from Postgres. Times are the database's clock,
 * so that replicas with skewed clocks report the same values.
 */
export interface IntegrationStateRow {
  sourceSystemId: number;
  integrationName: string;
  cron: string;
  timeZone: string;
  paused: boolean;
  consecutiveFailures: number;
  /** When the last successful run finished, s since the epoch; null before the first success. */
  lastSucceededAtSeconds: number | null;
  /** Database `now()` minus the watermark instant (`maxSyncDateTimeUtc`, floored to µs), s; null without a watermark. */
  watermarkLagSeconds: number | null;
  /** When the integration was first configured, s since the epoch (the staleness baseline before any success). */
  createdAtSeconds: number;
  /** Runs recorded with a watermark that moved backwards (0 until the `watermark_regressed` column exists). */
  watermarkRegressions: number;
  /** Database `now()` at the read, s since the epoch. */
  nowSeconds: number;
  /** The stored watermark was read in an assumed zone (its text had no offset); absent means false. */
  zoneAssumed?: boolean;
}

type Row = Record<string, unknown>;

/** The reads behind `/metrics` and the readiness staleness check; nothing here writes. */
@Injectable()
export class MetricsRepository {
  /** Memoized once true: columns are added by migrations, which run before the app starts, never removed. */
  private hasRegressedColumn = false;
  private hasZoneColumn = false;

  constructor(@Inject(TIDEMARK_DATA_SOURCE) private readonly dataSource: DataSource) {}

  /**
   * Every enabled integration's state, ordered by (sourceSystemId, integrationName). One statement: the
   * regression count is a correlated count over the run history, served by the `run_history` index.
   */
  async integrationStates(): Promise<IntegrationStateRow[]> {
    const regressions = (await this.regressedColumnExists())
      ? `(SELECT count(*) FROM run r WHERE r.integration_id = i.id AND r.watermark_regressed)::int`
      : '0';
    const zoneAssumed = (await this.zoneColumnExists()) ? 'i.max_sync_zone_assumed IS NOT NULL' : 'false';
    const rows: Row[] = await this.dataSource.query(
      `SELECT i.source_system_id, i.integration_name, i.cron, i.time_zone, i.paused, i.consecutive_failures,
              extract(epoch FROM i.last_succeeded_at)::float8 AS last_succeeded_s,
              extract(epoch FROM (now() - i.max_sync_at))::float8 AS lag_s,
              extract(epoch FROM i.created_at)::float8 AS created_s,
              ${regressions} AS regressions,
              extract(epoch FROM now())::float8 AS now_s,
              ${zoneAssumed} AS zone_assumed
       FROM integration i
       WHERE i.enabled
       ORDER BY i.source_system_id, i.integration_name`,
    );
    return rows.map((row) => ({
      sourceSystemId: row.source_system_id as number,
      integrationName: row.integration_name as string,
      cron: row.cron as string,
      timeZone: row.time_zone as string,
      paused: row.paused as boolean,
      consecutiveFailures: row.consecutive_failures as number,
      lastSucceededAtSeconds: row.last_succeeded_s as number | null,
      watermarkLagSeconds: row.lag_s as number | null,
      createdAtSeconds: row.created_s as number,
      watermarkRegressions: row.regressions as number,
      nowSeconds: row.now_s as number,
      zoneAssumed: row.zone_assumed === true,
    }));
  }

  private async zoneColumnExists(): Promise<boolean> {
    if (this.hasZoneColumn) return true;
    const rows: Row[] = await this.dataSource.query(
      `SELECT 1 FROM information_schema.columns
       WHERE table_schema = current_schema() AND table_name = 'integration' AND column_name = 'max_sync_zone_assumed'`,
    );
    this.hasZoneColumn = rows.length > 0;
    return this.hasZoneColumn;
  }

  private async regressedColumnExists(): Promise<boolean> {
    if (this.hasRegressedColumn) return true;
    const rows: Row[] = await this.dataSource.query(
      `SELECT 1 FROM information_schema.columns
       WHERE table_schema = current_schema() AND table_name = 'run' AND column_name = 'watermark_regressed'`,
    );
    this.hasRegressedColumn = rows.length > 0;
    return this.hasRegressedColumn;
  }
}

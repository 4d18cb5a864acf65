import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { IntegrationConfig } from '../config/app-config';
import { TIDEMARK_DATA_SOURCE } from './data-source';
import { PipelinedTransaction } from './pipelined-transaction';
import { dbNow, epochMs, INTEGRATION_COLUMNS, LAST_RUN_COLUMNS, toIntegration, type Row } from './rows';
import { STATE_CHANNEL } from './state-notifications';
import { driftOf, type IntegrationDrift } from './integration-drift';
import type { IntegrationRecord, NextFireTime, Page } from './types';

/** Serializes config syncs from replicas that boot together (a transaction-level advisory lock). */
const CONFIG_SYNC_LOCK_KEY = 7_466_108_272;

/** Takes the sync lock, then reads the database's clock (after any wait for the lock). */
const SYNC_LOCK = `
  SELECT ${epochMs('clock_timestamp()')} AS db_now FROM (SELECT pg_advisory_xact_lock($1)) AS l`;

/**
 * One statement syncs the configured integrations and reports what it changed. `old` locks every integration row
 * in id order (the order batched finishes lock them in, so the two can't deadlock) and keeps its values from before
 * the statement; `upserted` waits for it (an InitPlan over `old`). `upserted` writes only rows that differ and
 * `disabled` only enabled rows missing from the config, so each row returned is a change, with its old values
 * (null for a new pair).
 */
const SYNC_WRITE = `
  WITH cfg AS (
    SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::boolean[], $7::timestamptz[])
      AS c(source_system_id, integration_name, cron, time_zone, misfire_policy, enabled, next_fire_at)
  ),
  old AS MATERIALIZED (
    SELECT i.id, i.cron, i.time_zone, i.misfire_policy, i.enabled FROM integration i ORDER BY i.id FOR UPDATE
  ),
  upserted AS (
    INSERT INTO integration (source_system_id, integration_name, cron, time_zone, misfire_policy, enabled, next_fire_at)
    SELECT c.* FROM cfg c WHERE (SELECT count(*) FROM old) >= 0
    ON CONFLICT (source_system_id, integration_name) DO UPDATE SET
      cron = EXCLUDED.cron,
      time_zone = EXCLUDED.time_zone,
      misfire_policy = EXCLUDED.misfire_policy,
      enabled = EXCLUDED.enabled,
      next_fire_at = CASE
        WHEN integration.cron <> EXCLUDED.cron OR integration.time_zone <> EXCLUDED.time_zone
          OR NOT integration.enabled OR integration.next_fire_at IS NULL
        THEN EXCLUDED.next_fire_at ELSE integration.next_fire_at END,
      version = integration.version + 1,
      updated_at = now()
    WHERE (integration.cron, integration.time_zone, integration.misfire_policy, integration.enabled)
      IS DISTINCT FROM (EXCLUDED.cron, EXCLUDED.time_zone, EXCLUDED.misfire_policy, EXCLUDED.enabled)
      OR integration.next_fire_at IS NULL
    RETURNING id, source_system_id, integration_name, cron, time_zone, misfire_policy, enabled
  ),
  disabled AS (
    UPDATE integration i SET enabled = false, version = i.version + 1, updated_at = now()
    WHERE i.enabled AND (SELECT count(*) FROM old) >= 0
      AND (i.source_system_id, i.integration_name) NOT IN (SELECT c.source_system_id, c.integration_name FROM cfg c)
    RETURNING i.id, i.source_system_id, i.integration_name, i.cron, i.time_zone, i.misfire_policy, i.enabled
  ),
  changed AS (SELECT *, true AS configured FROM upserted UNION ALL SELECT *, false FROM disabled),
  n AS (SELECT pg_notify($8, '*'))
  SELECT c.source_system_id, c.integration_name, c.cron, c.time_zone, c.misfire_policy, c.enabled, c.configured,
         o.id IS NOT NULL AS existed, o.cron AS old_cron, o.time_zone AS old_time_zone,
         o.misfire_policy AS old_misfire_policy, o.enabled AS old_enabled,
         (SELECT count(*) FROM n) AS notified, (SELECT count(*) FROM old) AS stored
  FROM changed c LEFT JOIN old o ON o.id = c.id
  UNION ALL
  SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
         (SELECT count(*) FROM n), (SELECT count(*) FROM old)
  WHERE NOT EXISTS (SELECT 1 FROM changed)`;

/**
 * The integrations as configured and as read: the only code that inserts integrations, changes their schedule or
 * pause flag, and reads them for the API. Claims, leases and run ends change other columns of the same rows (see
 * ClaimsRepository and RunsRepository).
 */
@Injectable()
export class IntegrationsRepository {
  constructor(@Inject(TIDEMARK_DATA_SOURCE) private readonly dataSource: DataSource) {}

  /** Checks that the database answers; throws the driver's error if not. */
  async ping(): Promise<void> {
    await this.dataSource.query('SELECT 1');
  }

  /** The database's clock, for callers that compute schedules against it. */
  async now(): Promise<Date> {
    return dbNow(this.dataSource.manager);
  }

  /**
   * Makes the stored integrations match the configuration: inserts new pairs, updates schedules, re-enables
   * returning pairs, and marks pairs missing from the config disabled (they keep their state and history).
   * The stored next fire time is kept unless the schedule changed or the pair was disabled, so a tick missed while
   * every replica was down is still seen as missed.
   *
   * Two round trips: the first takes the sync lock (replicas that boot together sync one after the other), the
   * second is SYNC_WRITE with COMMIT. The integration rows are locked only while that statement runs, never across
   * a round trip, so a booting replica's slow event loop can't hold up other replicas' claims and run ends.
   * @returns what the sync changed, as the statement saw it (old and new values)
   */
  async syncIntegrations(configs: IntegrationConfig[], nextFireTime: NextFireTime): Promise<IntegrationDrift> {
    return PipelinedTransaction.run(this.dataSource, async (tx) => {
      const [lock] = await tx.begin(SYNC_LOCK, [CONFIG_SYNC_LOCK_KEY]);
      const now = new Date(lock.db_now as number);
      const rows = await tx.commitAfter(SYNC_WRITE, [
        configs.map((c) => c.sourceSystemId),
        configs.map((c) => c.integrationName),
        configs.map((c) => c.cron),
        configs.map((c) => c.timeZone),
        configs.map((c) => c.misfirePolicy),
        configs.map((c) => c.enabled),
        configs.map((c) => nextFireTime(c, now).toISOString()),
        STATE_CHANNEL,
      ]);
      return driftOf(rows);
    });
  }

  async findIntegration(sourceSystemId: number, integrationName: string): Promise<IntegrationRecord | null> {
    const rows: Row[] = await this.dataSource.query(
      `SELECT ${INTEGRATION_COLUMNS}, ${LAST_RUN_COLUMNS}
       FROM integration i LEFT JOIN run lr ON lr.id = i.last_run_id
       WHERE i.source_system_id = $1 AND i.integration_name = $2`,
      [sourceSystemId, integrationName],
    );
    return rows[0] ? toIntegration(rows[0]) : null;
  }

  /**
   * Integrations ordered by (sourceSystemId, integrationName) in byte order, after the `after` position.
   * @param options.limit page size; one more row is read to know whether more follow
   */
  async listIntegrations(options: {
    sourceSystemId?: number;
    limit: number;
    after?: { sourceSystemId: number; integrationName: string };
  }): Promise<Page<IntegrationRecord>> {
    const params: unknown[] = [options.limit + 1];
    const where: string[] = [];
    if (options.sourceSystemId !== undefined) {
      params.push(options.sourceSystemId);
      where.push(`i.source_system_id = $${params.length}`);
    }
    if (options.after) {
      params.push(options.after.sourceSystemId, options.after.integrationName);
      where.push(`(i.source_system_id, i.integration_name) > ($${params.length - 1}, $${params.length})`);
    }
    const rows: Row[] = await this.dataSource.query(
      `SELECT ${INTEGRATION_COLUMNS}, ${LAST_RUN_COLUMNS}
       FROM integration i LEFT JOIN run lr ON lr.id = i.last_run_id
       ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY i.source_system_id, i.integration_name
       LIMIT $1`,
      params,
    );
    return { items: rows.slice(0, options.limit).map(toIntegration), hasMore: rows.length > options.limit };
  }
}

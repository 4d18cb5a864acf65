import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { IntegrationConfig } from '../config/app-config';
import { TIDEMARK_DATA_SOURCE } from './data-source';
import { dbNow, INTEGRATION_COLUMNS, LAST_RUN_COLUMNS, toIntegration, type Row } from './rows';
import { notifyChanged } from './state-notifications';
import type { IntegrationRecord, NextFireTime, Page } from './types';

/** Serializes config syncs from replicas that boot together (a transaction-level advisory lock). */
const CONFIG_SYNC_LOCK_KEY = 7_466_108_272;

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
   */
  async syncIntegrations(configs: IntegrationConfig[], nextFireTime: NextFireTime): Promise<void> {
    await this.dataSource.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [CONFIG_SYNC_LOCK_KEY]);
      // Rows are locked in id order, the order batched finishes lock them in, so the two can't deadlock.
      await tx.query('SELECT 1 FROM integration ORDER BY id FOR UPDATE');
      const now = await dbNow(tx);
      await tx.query(
        `INSERT INTO integration (source_system_id, integration_name, cron, time_zone, misfire_policy, enabled, next_fire_at)
         SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::boolean[], $7::timestamptz[])
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
           OR integration.next_fire_at IS NULL`,
        [
          configs.map((c) => c.sourceSystemId),
          configs.map((c) => c.integrationName),
          configs.map((c) => c.cron),
          configs.map((c) => c.timeZone),
          configs.map((c) => c.misfirePolicy),
          configs.map((c) => c.enabled),
          configs.map((c) => nextFireTime(c, now).toISOString()),
        ],
      );
      await tx.query(
        `UPDATE integration SET enabled = false, version = version + 1, updated_at = now()
         WHERE enabled AND (source_system_id, integration_name) NOT IN (
           SELECT * FROM unnest($1::int[], $2::text[]))`,
        [configs.map((c) => c.sourceSystemId), configs.map((c) => c.integrationName)],
      );
      await notifyChanged(tx, '*');
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

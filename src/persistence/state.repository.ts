import { Inject, Injectable, Optional } from '@nestjs/common';
import type { Pool, PoolClient, QueryResult } from 'pg';
import { epochMs, sqlCount, sqlIds, sqlText, sqlTextArray } from './sql-literals';
import { DataSource, type EntityManager } from 'typeorm';
import type { AppConfig, IntegrationConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import {
  DEFAULT_EVENT_SETTINGS,
  finishEventCandidates,
  finishEvents,
  pauseEvent,
  type EventSettings,
} from '../events/finish-events';
import { eventsJson, finishEventsCte, insertEvents } from './event-outbox';
import type { IntegrationStatus } from '../upstream/integration-status';
import {
  RunInProgressError,
  type AttemptRecord,
  type ClaimResult,
  type IntegrationRecord,
  type IntegrationRef,
  type NextFireTime,
  type Page,
  type RunCompletion,
  type RunRecord,
  type StartedRun,
  type Watermark,
} from './types';

export const TIDEMARK_DATA_SOURCE = Symbol('TIDEMARK_DATA_SOURCE');

/**
 * Channel of the state notifications: every transaction that changes served state (an integration's `version`)
 * sends `NOTIFY tidemark_state, '<id>,<id>,…'` (or `'*'` when any row may have changed), delivered on commit, so
 * that every replica's read cache drops exactly what changed.
 */
export const STATE_CHANNEL = 'tidemark_state';

/** Serializes config syncs from replicas that boot together (a transaction-level advisory lock). */
const CONFIG_SYNC_LOCK_KEY = 7_466_108_272;

const INTEGRATION_COLUMNS = `
  i.id::text AS id, i.source_system_id, i.integration_name, i.cron, i.time_zone, i.misfire_policy, i.enabled,
  i.paused, i.next_fire_at, i.last_status, i.last_succeeded_at, i.consecutive_failures, i.version::text AS version,
  i.updated_at`;
const RUN_FIELDS = [
  'id::text',
  'integration_id::text',
  'trigger',
  'scheduled_for',
  'replica_id',
  'started_at',
  'finished_at',
  'outcome',
  'error_code',
  'error',
  'http_status',
  'watermark_before',
  'watermark_after',
  'attempts',
  'outcome_unknown_retried',
  'watermark_regressed',
];
/** The run columns read from table alias `alias`, named `${prefix}${column}`; ids as exact decimal text. */
function runColumns(alias: string, prefix: string): string {
  return RUN_FIELDS.map((field) => {
    const [column, cast] = field.split('::');
    return `${alias}.${column}${cast ? `::${cast}` : ''} AS ${prefix}${column}`;
  }).join(', ');
}
const RUN_COLUMNS = runColumns('r', '');
const LAST_RUN_COLUMNS = runColumns('lr', 'lr_');

type Row = Record<string, unknown>;

/**
 * Every read and write of Tidemark's state; the only code that talks to TypeORM.
 *
 * Coordination between replicas lives here, in Postgres: a tick is claimed with `FOR UPDATE SKIP LOCKED`, keyed by
 * (integration, fire time) under a unique constraint, and executed under a lease with an expiry that the holder
 * renews. Lock order is always integration row, then run row, so concurrent claims, finishes and reaps can't deadlock.
 */
@Injectable()
export class StateRepository {
  /** How the outbox events written with run ends and pauses are made. */
  private readonly eventSettings: EventSettings;

  constructor(
    @Inject(TIDEMARK_DATA_SOURCE) private readonly dataSource: DataSource,
    @Optional() @Inject(APP_CONFIG) config?: AppConfig,
  ) {
    this.eventSettings = config
      ? { source: config.events.source, failureRepeat: config.events.failureRepeat }
      : DEFAULT_EVENT_SETTINGS;
  }

  /** The pg pool under TypeORM's connection, for the sweep's statement groups (see inOneRoundTrip). */
  private pgPool(): Pool {
    return (this.dataSource.driver as unknown as { master: Pool }).master;
  }

  /**
   * Runs `work` with a pooled connection on which it opens and ends a transaction itself (BEGIN and COMMIT travel
   * with its first and last statements). If `work` throws, the transaction is rolled back; a connection that cannot
   * even roll back is dropped from the pool, not reused.
   */
  private async inTransactionOnPgClient<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pgPool().connect();
    let broken: Error | undefined;
    // pg-pool drops its own 'error' listener from a client while it is checked out, and a connection lost with
    // nobody listening is an uncaught exception: the replica would crash on a Postgres restart mid-claim.
    const onError = (error: Error) => (broken ??= error);
    client.on('error', onError);
    try {
      return await work(client);
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => (broken ??= rollbackError));
      throw error;
    } finally {
      client.removeListener('error', onError);
      client.release(broken);
    }
  }

  /** Checks that the database answers; throws the driver's error if not. */
  async ping(): Promise<void> {
    await this.dataSource.query('SELECT 1');
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

  /**
   * Claims due integrations for this replica and starts one run per claimed tick, in one transaction.
   * Rows another replica is claiming right now are skipped (`SKIP LOCKED`), so each tick goes to exactly one
   * replica; the run's unique (integration, scheduled_for) key makes the database refuse a second run of a tick.
   * Times are the database's clock, so replicas with skewed clocks agree on what is due.
   * @param options.leaseMs lease length given to each started run, ms
   * @param options.misfireThresholdMs a fire time older than this is missed, ms
   * @param options.limit most integrations claimed in this call
   */
  async claimDue(options: {
    replicaId: string;
    leaseMs: number;
    misfireThresholdMs: number;
    limit: number;
    nextFireTime: NextFireTime;
  }): Promise<ClaimResult> {
    // Two round trips in all (see inOneRoundTrip): BEGIN with the locking read, then the writes with COMMIT.
    return this.inTransactionOnPgClient(async (client) => {
      // The transaction's now() comes with the rows (every row carries the same value).
      const [, selected] = await inOneRoundTrip(
        client,
        `BEGIN;
         SELECT ${epochMs('now()')} AS db_now, i.id::text AS id, i.source_system_id, i.integration_name, i.cron, i.time_zone, i.misfire_policy,
                ${epochMs('i.next_fire_at')} AS next_fire_at, i.lease_owner, i.lease_run_id::text AS lease_run_id,
                ${epochMs('i.lease_expires_at')} AS lease_expires_at,
                i.last_status IS NOT NULL AS has_status, i.max_sync_date_time, i.max_sync_date_time_utc,
                i.max_sync_pk_id::text AS max_sync_pk_id
         FROM integration i
         WHERE i.enabled AND NOT i.paused AND i.next_fire_at <= now()
         ORDER BY i.next_fire_at
         LIMIT ${sqlCount(options.limit)}
         FOR UPDATE SKIP LOCKED`,
      );
      const rows = selected.rows as Row[];
      const result: ClaimResult = { started: [], skippedOverlap: [], skippedMisfire: [], abandoned: [] };
      if (rows.length === 0) {
        await client.query('COMMIT');
        return result;
      }
      const now = new Date(rows[0].db_now as number);

      const abandonRunIds: string[] = [];
      const toStart: Array<{ ref: IntegrationRef; scheduledFor: Date; before: Watermark | null }> = [];
      const updates = new Map<string, { nextFireAt: Date; takeLease: boolean }>();
      for (const row of rows) {
        const ref = toRef(row);
        const schedule = { cron: row.cron as string, timeZone: row.time_zone as string };
        const due = new Date(row.next_fire_at as number);
        const leaseExpiresAt = row.lease_expires_at === null ? null : new Date(row.lease_expires_at as number);
        if (leaseExpiresAt && leaseExpiresAt > now) {
          result.skippedOverlap.push({ integration: ref, scheduledFor: due });
          updates.set(ref.id, { nextFireAt: options.nextFireTime(schedule, now), takeLease: false });
          continue;
        }
        if (row.lease_run_id) {
          abandonRunIds.push(row.lease_run_id as string);
          result.abandoned.push({
            integration: ref,
            runId: row.lease_run_id as string,
            replicaId: row.lease_owner as string,
          });
        }
        const missed = now.getTime() - due.getTime() > options.misfireThresholdMs;
        if (missed && row.misfire_policy === 'skip') {
          result.skippedMisfire.push({ integration: ref, scheduledFor: due });
          updates.set(ref.id, { nextFireAt: options.nextFireTime(schedule, now), takeLease: false });
          continue;
        }
        // A late claim runs once, keyed by the oldest due fire time, and folds the fire times that also passed
        // into that run instead of replaying them back to back: one catch-up run, not one per missed tick.
        const following = options.nextFireTime(schedule, due);
        const nextFireAt = following <= now ? options.nextFireTime(schedule, now) : following;
        // The watermark columns hold the last status's watermark; reading them spares parsing the whole status.
        const before: Watermark | null = row.has_status
          ? {
              maxSyncDateTime: row.max_sync_date_time as string | null,
              maxSyncDateTimeUtc: row.max_sync_date_time_utc as string | null,
              maxSyncDateMaxPkId: row.max_sync_pk_id as string | null,
            }
          : null;
        toStart.push({ ref, scheduledFor: due, before });
        updates.set(ref.id, { nextFireAt, takeLease: true });
      }

      if (abandonRunIds.length > 0) await markAbandoned(client, abandonRunIds);

      // One statement starts the runs, moves every claimed integration on (taking the lease where a run started,
      // releasing an abandoned run's lease where none did) and notifies the replicas' caches: three round trips
      // fewer per claim, which a sweep waits on (issue 6).
      const abandoned = new Set(result.abandoned.map((a) => a.integration.id));
      const startById = new Map(toStart.map((start) => [start.ref.id, start]));
      const ids = [...updates.keys()];
      const batch = batchJson(
        ids.map((id) => {
          const update = updates.get(id)!;
          const start = startById.get(id);
          return {
            id,
            next_fire_at: update.nextFireAt.toISOString(),
            start: update.takeLease,
            scheduled_for: start ? start.scheduledFor.toISOString() : null,
            watermark_before: start ? start.before : null,
            release_lease: abandoned.has(id),
          };
        }),
      );
      const [written] = await inOneRoundTrip(
        client,
        `WITH u AS (
           SELECT * FROM jsonb_to_recordset(${sqlText(batch)}::jsonb)
             AS u(id bigint, next_fire_at timestamptz, start boolean, scheduled_for timestamptz, watermark_before jsonb,
                  release_lease boolean)
         ),
         ins AS (
           INSERT INTO run (integration_id, trigger, scheduled_for, replica_id, outcome, watermark_before)
           SELECT u.id, 'schedule', u.scheduled_for, ${sqlText(options.replicaId)}, 'running', u.watermark_before FROM u WHERE u.start
           ON CONFLICT (integration_id, scheduled_for) DO NOTHING
           RETURNING id, integration_id
         ),
         upd AS (
           UPDATE integration i SET
             next_fire_at = u.next_fire_at,
             lease_owner = CASE WHEN ins.id IS NOT NULL THEN ${sqlText(options.replicaId)} WHEN u.release_lease THEN NULL ELSE i.lease_owner END,
             lease_run_id = CASE WHEN ins.id IS NOT NULL THEN ins.id WHEN u.release_lease THEN NULL ELSE i.lease_run_id END,
             lease_expires_at = CASE WHEN ins.id IS NOT NULL THEN now() + make_interval(secs => ${sqlCount(options.leaseMs)}::double precision / 1000)
                                     WHEN u.release_lease THEN NULL ELSE i.lease_expires_at END,
             last_run_id = COALESCE(ins.id, i.last_run_id),
             version = i.version + 1,
             updated_at = now()
           FROM u LEFT JOIN ins ON ins.integration_id = u.id
           WHERE i.id = u.id
           RETURNING i.id
         ),
         n AS (SELECT pg_notify(${sqlText(STATE_CHANNEL)}, p) FROM unnest(${sqlTextArray(notifyPayloads(ids))}) AS p)
         SELECT coalesce((SELECT json_agg(json_build_object('id', ins.id::text, 'integration_id', ins.integration_id::text)) FROM ins), '[]') AS started,
                (SELECT count(*) FROM upd) AS updated,
                (SELECT count(*) FROM n) AS notified;
         COMMIT`,
      );
      const [claimed] = written.rows as Row[];
      const runIdByIntegration = new Map(
        (claimed.started as Array<{ id: string; integration_id: string }>).map((r) => [r.integration_id, r.id]),
      );
      for (const start of toStart) {
        const runId = runIdByIntegration.get(start.ref.id);
        // No run: the tick already has one (only possible if a row was edited by hand): never run it twice.
        if (runId === undefined) continue;
        result.started.push({
          runId,
          integration: start.ref,
          trigger: 'schedule',
          scheduledFor: start.scheduledFor,
          watermarkBefore: start.before,
        });
      }
      return result;
    });
  }

  /**
   * Starts a manual run now, taking the integration's lease.
   * @throws RunInProgressError when a run of the integration holds an unexpired lease
   */
  async startManualRun(ref: IntegrationRef, replicaId: string, leaseMs: number): Promise<StartedRun> {
    return this.dataSource.transaction(async (tx) => {
      const now = await dbNow(tx);
      const [row]: Row[] = await tx.query(
        `SELECT lease_run_id::text AS lease_run_id, lease_expires_at, last_status FROM integration WHERE id = $1 FOR UPDATE`,
        [ref.id],
      );
      if (!row) throw new Error(`integration ${ref.id} vanished`);
      if (row.lease_expires_at && (row.lease_expires_at as Date) > now) {
        throw new RunInProgressError(ref, row.lease_run_id as string);
      }
      if (row.lease_run_id) await markAbandoned(tx, [row.lease_run_id as string]);
      const before = watermarkOf(row.last_status as IntegrationStatus | null);
      const [run]: Row[] = await tx.query(
        `INSERT INTO run (integration_id, trigger, scheduled_for, replica_id, outcome, watermark_before)
         VALUES ($1, 'manual', NULL, $2, 'running', $3) RETURNING id::text AS id`,
        [ref.id, replicaId, before ? JSON.stringify(before) : null],
      );
      await tx.query(
        `UPDATE integration SET lease_owner = $2, lease_run_id = $3,
           lease_expires_at = $4::timestamptz + make_interval(secs => $5::double precision / 1000),
           last_run_id = $3, version = version + 1, updated_at = $4
         WHERE id = $1`,
        [ref.id, replicaId, run.id, now, leaseMs],
      );
      await notifyChanged(tx, [ref.id]);
      return {
        runId: run.id as string,
        integration: ref,
        trigger: 'manual',
        scheduledFor: null,
        watermarkBefore: before,
      };
    });
  }

  /**
   * Ends a run and updates the integration in one transaction, and releases the lease.
   * Only a success touches the watermark. If the run is no longer `running` (its lease expired and another
   * replica marked it abandoned), nothing is written and `false` is returned: the state belongs to whoever
   * holds the lease now.
   */
  async finishRun(
    started: StartedRun,
    completion: RunCompletion,
  ): Promise<{ applied: boolean; finished: RunRecord | null }> {
    return this.dataSource.transaction(async (tx) => {
      await tx.query(`SELECT 1 FROM integration WHERE id = $1 FOR UPDATE`, [started.integration.id]);
      const succeeded = completion.outcome === 'succeeded';
      const after = succeeded ? watermarkOf(completion.status) : null;
      const [run] = await returning(
        tx,
        `UPDATE run r SET outcome = $2, finished_at = clock_timestamp(), error_code = $3, error = $4, http_status = $5,
           watermark_after = $6, status = $7, attempts = $8, outcome_unknown_retried = $9, watermark_regressed = $10
         WHERE id = $1 AND outcome = 'running'
         RETURNING ${RUN_COLUMNS}`,
        [
          started.runId,
          completion.outcome,
          succeeded ? null : completion.errorCode,
          succeeded ? null : completion.error,
          completion.httpStatus,
          after ? JSON.stringify(after) : null,
          succeeded ? JSON.stringify(completion.status) : null,
          JSON.stringify(completion.attempts),
          completion.outcomeUnknownRetried,
          succeeded ? completion.watermarkRegressed : false,
        ],
      );
      if (!run) return { applied: false, finished: null };
      let consecutiveFailures: number | null = null;
      if (succeeded) {
        const status = completion.status;
        await tx.query(
          `UPDATE integration SET
             last_status = $2, max_sync_date_time = $3, max_sync_date_time_utc = $4, max_sync_at = $5::timestamptz,
             max_sync_pk_id = $6::bigint, custom_database_values = $7, last_succeeded_at = clock_timestamp(),
             consecutive_failures = 0, last_run_id = $8, version = version + 1, updated_at = clock_timestamp(),
             lease_owner = CASE WHEN lease_run_id = $8 THEN NULL ELSE lease_owner END,
             lease_expires_at = CASE WHEN lease_run_id = $8 THEN NULL ELSE lease_expires_at END,
             lease_run_id = CASE WHEN lease_run_id = $8 THEN NULL ELSE lease_run_id END
           WHERE id = $1`,
          [
            started.integration.id,
            JSON.stringify(status),
            status.maxSyncDateTime,
            status.maxSyncDateTimeUtc,
            status.maxSyncDateTimeUtc === null ? null : floorToMicroseconds(status.maxSyncDateTimeUtc),
            status.maxSyncDateMaxPkId,
            status.customDatabaseValues === null ? null : JSON.stringify(status.customDatabaseValues),
            started.runId,
          ],
        );
      } else {
        const [loss] = await returning(
          tx,
          `UPDATE integration SET
             consecutive_failures = consecutive_failures + CASE WHEN $3 THEN 1 ELSE 0 END,
             last_run_id = $2, version = version + 1, updated_at = clock_timestamp(),
             lease_owner = CASE WHEN lease_run_id = $2 THEN NULL ELSE lease_owner END,
             lease_expires_at = CASE WHEN lease_run_id = $2 THEN NULL ELSE lease_expires_at END,
             lease_run_id = CASE WHEN lease_run_id = $2 THEN NULL ELSE lease_run_id END
           WHERE id = $1
           RETURNING consecutive_failures`,
          [started.integration.id, started.runId, completion.outcome === 'failed'],
        );
        consecutiveFailures = (loss?.consecutive_failures as number | undefined) ?? null;
      }
      await insertEvents(tx, finishEvents(started, completion, consecutiveFailures, this.eventSettings));
      await notifyChanged(tx, [started.integration.id]);
      return { applied: true, finished: toRun(run) };
    });
  }

  /**
   * Finishes many runs in one transaction (group commit): the same writes as {@link finishRun} for each, so each
   * run's row and its integration's state still commit together, and one commit serves the batch. Integration rows
   * are locked in id order. A run that is no longer `running` is left alone and answered `applied: false`.
   * If the transaction fails, none of the batch is written and the error is thrown: callers that can't tell a bad
   * run from a bad batch retry the runs one by one with {@link finishRun}.
   * @param items at most one run per integration
   * @returns one result per item, in order
   */
  async finishRuns(
    items: ReadonlyArray<{ started: StartedRun; completion: RunCompletion }>,
  ): Promise<Array<{ applied: boolean; finished: RunRecord | null }>> {
    if (items.length === 0) return [];
    const integrationIds = items.map((item) => item.started.integration.id);
    if (new Set(integrationIds).size !== integrationIds.length) {
      throw new Error('finishRuns: a batch holds at most one run per integration');
    }
    const succeeded = (c: RunCompletion): c is Extract<RunCompletion, { outcome: 'succeeded' }> =>
      c.outcome === 'succeeded';
    const batch = batchJson(
      items.map(({ started, completion }) => {
        const status = succeeded(completion) ? completion.status : null;
        return {
          id: started.runId,
          integration_id: started.integration.id,
          outcome: completion.outcome,
          error_code: succeeded(completion) ? null : completion.errorCode,
          error: succeeded(completion) ? null : completion.error,
          http_status: completion.httpStatus,
          watermark_after: status ? watermarkOf(status) : null,
          status,
          attempts: completion.attempts,
          outcome_unknown_retried: completion.outcomeUnknownRetried,
          watermark_regressed: succeeded(completion) ? completion.watermarkRegressed : false,
          max_sync_date_time: status?.maxSyncDateTime ?? null,
          max_sync_date_time_utc: status?.maxSyncDateTimeUtc ?? null,
          max_sync_at: status?.maxSyncDateTimeUtc ? floorToMicroseconds(status.maxSyncDateTimeUtc) : null,
          max_sync_pk_id: status?.maxSyncDateMaxPkId ?? null,
          custom_database_values: status?.customDatabaseValues ?? null,
        };
      }),
    );
    const events = eventsJson(finishEventCandidates(items, this.eventSettings));
    // One round trip, one transaction (see inOneRoundTrip): the integration rows are locked in id order, then one
    // statement records the runs, updates their integrations (only for runs still 'running', i.e. not abandoned
    // meanwhile) and notifies the replicas' caches. An integration's lease is released only if this run holds it.
    const [, recorded] = await inOneRoundTrip(
      this.pgPool(),
      `SELECT 1 FROM integration WHERE id = ANY(${sqlIds(integrationIds)}) ORDER BY id FOR UPDATE;
       WITH u AS (
         SELECT * FROM jsonb_to_recordset(${sqlText(batch)}::jsonb)
           AS u(id bigint, integration_id bigint, outcome text, error_code text, error text, http_status int,
                watermark_after jsonb, status jsonb, attempts jsonb, outcome_unknown_retried boolean,
                watermark_regressed boolean, max_sync_date_time text, max_sync_date_time_utc text,
                max_sync_at timestamptz, max_sync_pk_id bigint, custom_database_values jsonb)
       ),
       r AS (
         UPDATE run r SET outcome = u.outcome, finished_at = clock_timestamp(), error_code = u.error_code, error = u.error,
           http_status = u.http_status, watermark_after = u.watermark_after, status = u.status, attempts = u.attempts,
           outcome_unknown_retried = u.outcome_unknown_retried, watermark_regressed = u.watermark_regressed
         FROM u
         WHERE r.id = u.id AND r.outcome = 'running'
         RETURNING r.id, r.replica_id, r.started_at, r.finished_at
       ),
       applied AS (SELECT u.* FROM u WHERE u.id IN (SELECT r.id::bigint FROM r)),
       wins AS (
         UPDATE integration i SET
           last_status = a.status, max_sync_date_time = a.max_sync_date_time, max_sync_date_time_utc = a.max_sync_date_time_utc,
           max_sync_at = a.max_sync_at, max_sync_pk_id = a.max_sync_pk_id, custom_database_values = a.custom_database_values,
           last_succeeded_at = clock_timestamp(), consecutive_failures = 0, last_run_id = a.id,
           version = i.version + 1, updated_at = clock_timestamp(),
           lease_owner = CASE WHEN i.lease_run_id = a.id THEN NULL ELSE i.lease_owner END,
           lease_expires_at = CASE WHEN i.lease_run_id = a.id THEN NULL ELSE i.lease_expires_at END,
           lease_run_id = CASE WHEN i.lease_run_id = a.id THEN NULL ELSE i.lease_run_id END
         FROM applied a
         WHERE i.id = a.integration_id AND a.outcome = 'succeeded'
       ),
       losses AS (
         UPDATE integration i SET
           consecutive_failures = i.consecutive_failures + CASE WHEN a.outcome = 'failed' THEN 1 ELSE 0 END,
           last_run_id = a.id, version = i.version + 1, updated_at = clock_timestamp(),
           lease_owner = CASE WHEN i.lease_run_id = a.id THEN NULL ELSE i.lease_owner END,
           lease_expires_at = CASE WHEN i.lease_run_id = a.id THEN NULL ELSE i.lease_expires_at END,
           lease_run_id = CASE WHEN i.lease_run_id = a.id THEN NULL ELSE i.lease_run_id END
         FROM applied a
         WHERE i.id = a.integration_id AND a.outcome <> 'succeeded'
         RETURNING i.id AS integration_id, i.consecutive_failures
       ),
       ${finishEventsCte(`${sqlText(events)}::jsonb`, `${sqlCount(this.eventSettings.failureRepeat)}::int`)},
       n AS (SELECT pg_notify(${sqlText(STATE_CHANNEL)}, string_agg(a.integration_id::text, ',')) FROM applied a HAVING count(*) > 0)
       SELECT r.id::text AS id, r.replica_id, ${epochMs('r.started_at')} AS started_at, ${epochMs('r.finished_at')} AS finished_at,
              (SELECT count(*) FROM n) AS notified
       FROM r`,
    );
    const runs = recorded.rows as Row[];
    // The rest of each record is what this statement wrote: reading the jsonb columns back cost Postgres their
    // output and the service their parsing, per run of a sweep (issue 6).
    const writtenById = new Map(runs.map((row) => [row.id as string, row]));
    return items.map(({ started, completion }) => {
      const written = writtenById.get(started.runId);
      if (written === undefined) return { applied: false, finished: null };
      const status = succeeded(completion) ? completion.status : null;
      const finished: RunRecord = {
        id: started.runId,
        integrationId: started.integration.id,
        trigger: started.trigger,
        scheduledFor: started.scheduledFor,
        replicaId: written.replica_id as string,
        startedAt: new Date(written.started_at as number),
        finishedAt: new Date(written.finished_at as number),
        outcome: completion.outcome,
        errorCode: succeeded(completion) ? null : completion.errorCode,
        error: succeeded(completion) ? null : completion.error,
        httpStatus: completion.httpStatus,
        watermarkBefore: started.watermarkBefore,
        watermarkAfter: status ? watermarkOf(status) : null,
        attempts: completion.attempts,
        outcomeUnknownRetried: completion.outcomeUnknownRetried,
        watermarkRegressed: succeeded(completion) ? completion.watermarkRegressed : false,
      };
      return { applied: true, finished };
    });
  }

  /** Extends the leases of runs this replica still executes; returns the run ids whose lease it no longer holds. */
  async renewLeases(replicaId: string, runIds: string[], leaseMs: number): Promise<string[]> {
    if (runIds.length === 0) return [];
    const rows = await returning(
      this.dataSource.manager,
      `UPDATE integration SET lease_expires_at = now() + make_interval(secs => $3::double precision / 1000)
       WHERE lease_owner = $1 AND lease_run_id = ANY($2::bigint[])
       RETURNING lease_run_id::text AS run_id`,
      [replicaId, runIds, leaseMs],
    );
    const held = new Set(rows.map((r) => r.run_id as string));
    return runIds.filter((id) => !held.has(id));
  }

  /**
   * Marks runs whose lease expired (their replica died or hung) as `abandoned` and frees the integration.
   * @returns the runs marked
   */
  async reapExpiredLeases(limit = 500): Promise<ClaimResult['abandoned']> {
    return this.dataSource.transaction(async (tx) => {
      const rows: Row[] = await tx.query(
        // A held lease always names a run still 'running' (taken with the run's insert, released with its end), so the
        // few running runs (index run_in_progress) lead to every lease that can expire.
        `SELECT i.id::text AS id, i.source_system_id, i.integration_name, i.lease_run_id::text AS lease_run_id, i.lease_owner
         FROM run r JOIN integration i ON i.id = r.integration_id AND i.lease_run_id = r.id
         WHERE r.outcome = 'running' AND i.lease_expires_at < now()
         ORDER BY i.lease_expires_at LIMIT $1 FOR UPDATE OF i SKIP LOCKED`,
        [limit],
      );
      if (rows.length === 0) return [];
      const runIds = rows.map((r) => r.lease_run_id as string);
      await markAbandoned(tx, runIds);
      await tx.query(
        `UPDATE integration SET lease_owner = NULL, lease_run_id = NULL, lease_expires_at = NULL,
           version = version + 1, updated_at = now()
         WHERE id = ANY($1::bigint[])`,
        [rows.map((r) => r.id)],
      );
      await notifyChanged(
        tx,
        rows.map((r) => r.id as string),
      );
      return rows.map((r) => ({
        integration: toRef(r),
        runId: r.lease_run_id as string,
        replicaId: r.lease_owner as string,
      }));
    });
  }

  /** Deletes finished runs that started more than `days` ago, at most `batchSize` per call, never a last run. */
  async pruneRunHistory(days: number, batchSize: number): Promise<number> {
    const rows = await returning(
      this.dataSource.manager,
      `DELETE FROM run WHERE id IN (
         SELECT r.id FROM run r
         WHERE r.started_at < now() - make_interval(days => $1) AND r.outcome <> 'running'
           AND NOT EXISTS (SELECT 1 FROM integration i WHERE i.last_run_id = r.id)
         ORDER BY r.started_at LIMIT $2
         FOR UPDATE SKIP LOCKED)
       RETURNING id`,
      [days, batchSize],
    );
    return rows.length;
  }

  /** Sets or clears `paused`; on resume the next fire time starts from `resumeFrom` so no backlog is replayed. */
  async setPaused(ref: IntegrationRef, paused: boolean, nextFireAt: Date | null): Promise<void> {
    await this.dataSource.transaction(async (tx) => {
      const [previous]: Row[] = await tx.query('SELECT paused FROM integration WHERE id = $1 FOR UPDATE', [ref.id]);
      await tx.query(
        `UPDATE integration SET paused = $2, next_fire_at = COALESCE($3, next_fire_at), version = version + 1,
           updated_at = now()
         WHERE id = $1`,
        [ref.id, paused, nextFireAt?.toISOString() ?? null],
      );
      if (previous && previous.paused !== paused) {
        await insertEvents(tx, [pauseEvent(ref, paused, nextFireAt, this.eventSettings)]);
      }
      await notifyChanged(tx, [ref.id]);
    });
  }

  /**
   * Milliseconds from now (database clock) until the earliest next fire time of an enabled, unpaused integration;
   * negative when one is already due, null when none is scheduled. The ticker sleeps until then.
   */
  async msUntilNextDue(): Promise<number | null> {
    const [row]: Row[] = await this.dataSource.query(
      `SELECT (EXTRACT(EPOCH FROM (min(next_fire_at) - now())) * 1000)::float8 AS ms
       FROM integration WHERE enabled AND NOT paused`,
    );
    return row?.ms === null || row?.ms === undefined ? null : Number(row.ms);
  }

  /** The database's clock, for callers that compute schedules against it. */
  async now(): Promise<Date> {
    return dbNow(this.dataSource.manager);
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

  /** Runs of one integration, newest first, with ids below `beforeId`. */
  async listRuns(integrationId: string, options: { limit: number; beforeId?: string }): Promise<Page<RunRecord>> {
    const rows: Row[] = await this.dataSource.query(
      `SELECT ${RUN_COLUMNS} FROM run r
       WHERE r.integration_id = $1 ${options.beforeId ? 'AND r.id < $3::bigint' : ''}
       ORDER BY r.id DESC LIMIT $2`,
      options.beforeId ? [integrationId, options.limit + 1, options.beforeId] : [integrationId, options.limit + 1],
    );
    return { items: rows.slice(0, options.limit).map((row) => toRun(row)), hasMore: rows.length > options.limit };
  }

  async findRun(runId: string): Promise<RunRecord | null> {
    const rows: Row[] = await this.dataSource.query(`SELECT ${RUN_COLUMNS} FROM run r WHERE r.id = $1`, [runId]);
    return rows[0] ? toRun(rows[0]) : null;
  }
}

/** Runs an UPDATE or DELETE … RETURNING; TypeORM answers those with [rows, rowCount] instead of rows. */
/**
 * Rows of a batch statement as one JSON document for `jsonb_to_recordset`: one parameter whatever the batch size,
 * and no array-literal escaping of each JSON value (pg escapes every element of a `jsonb[]` parameter). Longs and
 * timestamps travel as strings, so nothing is rounded.
 */
function batchJson(rows: ReadonlyArray<Record<string, unknown>>): string {
  return JSON.stringify(rows);
}

/**
 * Sends `statements` (separated by semicolons, no parameters) in one simple-protocol message: one round trip and,
 * without BEGIN or COMMIT among them, one implicit transaction; an error skips the statements after it. A sweep's
 * claims and group commits took four round trips each with TypeORM's transaction (BEGIN, a statement or two,
 * COMMIT), each a socket write and a wake-up of both processes on a shared machine (issue 6). Having no parameters,
 * the text carries its values, and only the helpers of `sql-literals.ts` write them.
 * @returns one result per statement, in order
 */
async function inOneRoundTrip(on: Pool | PoolClient, statements: string): Promise<QueryResult[]> {
  const results = (await on.query(statements)) as unknown as QueryResult | QueryResult[];
  return Array.isArray(results) ? results : [results];
}

async function returning(tx: EntityManager, text: string, params: unknown[]): Promise<Row[]> {
  const result: unknown = await tx.query(text, params);
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') {
    return result[0] as Row[];
  }
  return result as Row[];
}

/** Longest NOTIFY payload sent; Postgres allows 8000 bytes. */
const NOTIFY_PAYLOAD_MAX = 7_900;

/**
 * Tells every replica's read cache, on commit, which integrations changed (`'*'`: any may have). Ids are sent as
 * comma-separated decimals, split over as many notifications as the payload limit needs.
 */
async function notifyChanged(tx: EntityManager, ids: readonly string[] | '*'): Promise<void> {
  if (ids === '*') {
    await tx.query('SELECT pg_notify($1, $2)', [STATE_CHANNEL, '*']);
    return;
  }
  const payloads = notifyPayloads(ids);
  if (payloads.length === 0) return;
  await tx.query('SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p', [STATE_CHANNEL, payloads]);
}

/** Comma-separated ids in payloads of at most NOTIFY_PAYLOAD_MAX bytes. */
function notifyPayloads(ids: readonly string[]): string[] {
  const payloads: string[] = [];
  let current = '';
  for (const id of ids) {
    if (current.length + id.length + 1 > NOTIFY_PAYLOAD_MAX) {
      payloads.push(current);
      current = '';
    }
    current = current ? `${current},${id}` : id;
  }
  if (current) payloads.push(current);
  return payloads;
}

async function dbNow(tx: EntityManager): Promise<Date> {
  const [row]: Row[] = await tx.query('SELECT now() AS now');
  return row.now as Date;
}

async function markAbandoned(
  tx: { query(text: string, params: unknown[]): Promise<unknown> },
  runIds: string[],
): Promise<void> {
  await tx.query(
    `UPDATE run SET outcome = 'abandoned', finished_at = clock_timestamp(), error_code = 'lease_expired',
       error = 'the replica ' || replica_id || ' stopped renewing the lease before the run finished'
     WHERE id = ANY($1::bigint[]) AND outcome = 'running'`,
    [runIds],
  );
}

/**
 * Floors an "O"-form UTC instant (7 fractional digits) to microseconds for a timestamptz. Postgres would round
 * half-to-even instead (.8100855 → .810086, a later instant that makes a consumer skip rows).
 */
export function floorToMicroseconds(utcRoundTrip: string): string {
  const match = /^(.*\.\d{6})\dZ$/.exec(utcRoundTrip);
  if (!match) throw new Error(`not a 7-digit UTC "O" timestamp: ${utcRoundTrip}`);
  return `${match[1]}Z`;
}

function watermarkOf(status: IntegrationStatus | null): Watermark | null {
  if (!status) return null;
  return {
    maxSyncDateTime: status.maxSyncDateTime,
    maxSyncDateTimeUtc: status.maxSyncDateTimeUtc,
    maxSyncDateMaxPkId: status.maxSyncDateMaxPkId,
  };
}

function toRef(row: Row): IntegrationRef {
  return {
    id: row.id as string,
    sourceSystemId: row.source_system_id as number,
    integrationName: row.integration_name as string,
  };
}

function toRun(row: Row, prefix = ''): RunRecord {
  const get = (name: string) => row[prefix + name];
  return {
    id: get('id') as string,
    integrationId: get('integration_id') as string,
    trigger: get('trigger') as RunRecord['trigger'],
    scheduledFor: get('scheduled_for') as Date | null,
    replicaId: get('replica_id') as string,
    startedAt: get('started_at') as Date,
    finishedAt: get('finished_at') as Date | null,
    outcome: get('outcome') as RunRecord['outcome'],
    errorCode: get('error_code') as string | null,
    error: get('error') as string | null,
    httpStatus: get('http_status') as number | null,
    watermarkBefore: get('watermark_before') as Watermark | null,
    watermarkAfter: get('watermark_after') as Watermark | null,
    attempts: (get('attempts') as AttemptRecord[] | null) ?? [],
    outcomeUnknownRetried: (get('outcome_unknown_retried') as boolean | null) ?? false,
    watermarkRegressed: (get('watermark_regressed') as boolean | null) ?? false,
  };
}

function toIntegration(row: Row): IntegrationRecord {
  return {
    ...toRef(row),
    cron: row.cron as string,
    timeZone: row.time_zone as string,
    misfirePolicy: row.misfire_policy as IntegrationRecord['misfirePolicy'],
    enabled: row.enabled as boolean,
    paused: row.paused as boolean,
    nextFireAt: row.next_fire_at as Date | null,
    lastStatus: row.last_status as IntegrationStatus | null,
    lastSucceededAt: row.last_succeeded_at as Date | null,
    consecutiveFailures: row.consecutive_failures as number,
    version: row.version as string,
    updatedAt: row.updated_at as Date,
    lastRun: row.lr_id ? toRun(row, 'lr_') : null,
  };
}

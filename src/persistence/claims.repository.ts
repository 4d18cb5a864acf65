import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { IntegrationStatus } from '../upstream/integration-status';
import { TIDEMARK_DATA_SOURCE } from './data-source';
import { PipelinedTransaction } from './pipelined-transaction';
import { dbNow, epochMs, toRef, watermarkOf, type Row } from './rows';
import { notifyChanged, notifyPayloads, STATE_CHANNEL } from './state-notifications';
import {
  RunInProgressError,
  type ClaimResult,
  type IntegrationRef,
  type NextFireTime,
  type ScheduleSpec,
  type StartedRun,
  type Watermark,
} from './types';

export interface ClaimOptions {
  replicaId: string;
  /** Lease length given to each started run, ms. */
  leaseMs: number;
  /** A fire time older than this is missed, ms. */
  misfireThresholdMs: number;
  /** Most integrations claimed in this call. */
  limit: number;
  nextFireTime: NextFireTime;
}

/** What a claim decided for one locked integration, written by CLAIM_WRITE. */
interface ClaimDecision {
  id: string;
  nextFireAt: Date;
  /** A run starts (and takes the lease), keyed by `scheduledFor`. */
  start: { scheduledFor: Date; before: Watermark | null } | null;
  /** An abandoned run's lease is released (when no run starts). */
  releaseLease: boolean;
}

/**
 * The due integrations, locked; the transaction's now() comes with the rows (every row carries the same value).
 * Rows another replica is claiming right now are skipped. The watermark columns hold the last status's watermark,
 * which spares reading the whole status.
 */
const CLAIM_READ = `
  SELECT ${epochMs('now()')} AS db_now, i.id::text AS id, i.source_system_id, i.integration_name, i.cron,
         i.time_zone, i.misfire_policy, ${epochMs('i.next_fire_at')} AS next_fire_at, i.lease_owner,
         i.lease_run_id::text AS lease_run_id, ${epochMs('i.lease_expires_at')} AS lease_expires_at,
         i.last_status IS NOT NULL AS has_status, i.max_sync_date_time, i.max_sync_date_time_utc,
         i.max_sync_pk_id::text AS max_sync_pk_id
  FROM integration i
  WHERE i.enabled AND NOT i.paused AND i.next_fire_at <= now()
  ORDER BY i.next_fire_at
  LIMIT $1
  FOR UPDATE SKIP LOCKED`;

/** Ends the runs whose ids parameter `param` holds, if still running, as abandoned by their replica. */
function markAbandoned(param: string): string {
  return `
    UPDATE run SET outcome = 'abandoned', finished_at = clock_timestamp(), error_code = 'lease_expired',
      error = 'the replica ' || replica_id || ' stopped renewing the lease before the run finished'
    WHERE id = ANY(${param}::bigint[]) AND outcome = 'running'`;
}

/**
 * One statement marks abandoned runs, starts the new runs, moves every claimed integration on (taking the lease
 * where a run started, releasing an abandoned run's lease where none did) and notifies the replicas' caches.
 * A tick that already has a run (the unique key refuses a second) starts nothing.
 */
const CLAIM_WRITE = `
  WITH u AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb)
      AS u(id bigint, next_fire_at timestamptz, start boolean, scheduled_for timestamptz, watermark_before jsonb,
           release_lease boolean)
  ),
  abandoned AS (${markAbandoned('$2')}),
  ins AS (
    INSERT INTO run (integration_id, trigger, scheduled_for, replica_id, outcome, watermark_before)
    SELECT u.id, 'schedule', u.scheduled_for, $3::text, 'running', u.watermark_before FROM u WHERE u.start
    ON CONFLICT (integration_id, scheduled_for) DO NOTHING
    RETURNING id, integration_id
  ),
  upd AS (
    UPDATE integration i SET
      next_fire_at = u.next_fire_at,
      lease_owner = CASE WHEN ins.id IS NOT NULL THEN $3 WHEN u.release_lease THEN NULL ELSE i.lease_owner END,
      lease_run_id = CASE WHEN ins.id IS NOT NULL THEN ins.id WHEN u.release_lease THEN NULL ELSE i.lease_run_id END,
      lease_expires_at = CASE WHEN ins.id IS NOT NULL THEN now() + make_interval(secs => $4::double precision / 1000)
                              WHEN u.release_lease THEN NULL ELSE i.lease_expires_at END,
      last_run_id = COALESCE(ins.id, i.last_run_id),
      version = i.version + 1,
      updated_at = now()
    FROM u LEFT JOIN ins ON ins.integration_id = u.id
    WHERE i.id = u.id
    RETURNING i.id
  ),
  n AS (SELECT pg_notify($5, p) FROM unnest($6::text[]) AS p)
  SELECT coalesce((SELECT json_agg(json_build_object('id', ins.id::text, 'integration_id', ins.integration_id::text))
                   FROM ins), '[]') AS started,
         (SELECT count(*) FROM upd) AS updated, (SELECT count(*) FROM n) AS notified`;

/**
 * Claims of due ticks, manual starts and the leases they take: the only code that starts runs, takes, renews or
 * releases leases by expiry, and marks runs abandoned.
 *
 * A tick is claimed with `FOR UPDATE SKIP LOCKED`, keyed by (integration, fire time) under a unique constraint, and
 * executed under a lease with an expiry that the holder renews. Lock order is always integration row, then run row,
 * so concurrent claims, finishes and reaps can't deadlock. Times are the database's clock, so replicas with skewed
 * clocks agree on what is due.
 */
@Injectable()
export class ClaimsRepository {
  constructor(@Inject(TIDEMARK_DATA_SOURCE) private readonly dataSource: DataSource) {}

  /**
   * Claims due integrations for this replica and starts one run per claimed tick, in one transaction of two round
   * trips: BEGIN with the locking read, then the write with COMMIT. Each tick goes to exactly one replica.
   */
  async claimDue(options: ClaimOptions): Promise<ClaimResult> {
    return PipelinedTransaction.run(this.dataSource, async (tx) => {
      const rows = await tx.begin(CLAIM_READ, [options.limit]);
      const result: ClaimResult = { started: [], skippedOverlap: [], skippedMisfire: [], abandoned: [] };
      if (rows.length === 0) {
        await tx.commit();
        return result;
      }
      const now = new Date(rows[0].db_now as number);
      const claimed = rows.flatMap((row) => {
        const decision = decideClaim(row, now, options, result);
        return decision === null ? [] : [{ row, decision }];
      });
      if (claimed.length === 0) {
        await tx.commit();
        return result;
      }
      const decisions = claimed.map((c) => c.decision);
      const ids = decisions.map((d) => d.id);
      // One jsonb document for the claimed rows (Dates serialise as ISO text): pg sends it as it is, where an array
      // parameter per column had each element escaped into an array literal. Ids are decimal text.
      const written = await tx.commitAfter(CLAIM_WRITE, [
        JSON.stringify(
          decisions.map((d) => ({
            id: d.id,
            next_fire_at: d.nextFireAt,
            start: d.start !== null,
            scheduled_for: d.start?.scheduledFor ?? null,
            watermark_before: d.start?.before ?? null,
            release_lease: d.releaseLease,
          })),
        ),
        result.abandoned.map((a) => a.runId),
        options.replicaId,
        options.leaseMs,
        STATE_CHANNEL,
        notifyPayloads(ids),
      ]);
      const started = written[0].started as Array<{ id: string; integration_id: string }>;
      const runIdByIntegration = new Map(started.map((run) => [run.integration_id, run.id]));
      for (const [index, decision] of decisions.entries()) {
        const runId = runIdByIntegration.get(decision.id);
        // No run: the tick already has one (only possible if a row was edited by hand): never run it twice.
        if (decision.start === null || runId === undefined) continue;
        result.started.push({
          runId,
          integration: toRef(claimed[index].row),
          trigger: 'schedule',
          scheduledFor: decision.start.scheduledFor,
          watermarkBefore: decision.start.before,
        });
      }
      return result;
    });
  }

  /**
   * Starts a manual run now, taking the integration's lease.
   * @param requestedBy the actor, audited with the run's end; none for a run no one is accountable for
   * @throws RunInProgressError when a run of the integration holds an unexpired lease
   */
  async startManualRun(
    ref: IntegrationRef,
    replicaId: string,
    leaseMs: number,
    requestedBy?: string,
  ): Promise<StartedRun> {
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
      if (row.lease_run_id) await tx.query(markAbandoned('$1'), [[row.lease_run_id]]);
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
        ...(requestedBy === undefined ? {} : { requestedBy }),
      };
    });
  }

  /** Extends the leases of runs this replica still executes; returns the run ids whose lease it no longer holds. */
  async renewLeases(replicaId: string, runIds: string[], leaseMs: number): Promise<string[]> {
    if (runIds.length === 0) return [];
    const rows: Row[] = await this.dataSource.query(
      `WITH renewed AS (
         UPDATE integration SET lease_expires_at = now() + make_interval(secs => $3::double precision / 1000)
         WHERE lease_owner = $1 AND lease_run_id = ANY($2::bigint[])
         RETURNING lease_run_id
       )
       SELECT lease_run_id::text AS run_id FROM renewed`,
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
        // A held lease always names a run still 'running' (taken with the run's insert, released with its end), so
        // the few running runs (index run_in_progress) lead to every lease that can expire.
        `SELECT i.id::text AS id, i.source_system_id, i.integration_name, i.lease_run_id::text AS lease_run_id, i.lease_owner
         FROM run r JOIN integration i ON i.id = r.integration_id AND i.lease_run_id = r.id
         WHERE r.outcome = 'running' AND i.lease_expires_at < now()
         ORDER BY i.lease_expires_at LIMIT $1 FOR UPDATE OF i SKIP LOCKED`,
        [limit],
      );
      if (rows.length === 0) return [];
      await tx.query(markAbandoned('$1'), [rows.map((r) => r.lease_run_id)]);
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
}

/**
 * What to do with one locked due integration: wait while the previous run's lease is unexpired, skip the tick once
 * the following tick has come with the lease still held, take over from a run whose lease expired (recorded in
 * `result.abandoned`), drop a missed tick under the `skip` policy, or start a run. Skips are recorded in `result`.
 * @returns null to leave the integration as it is, still due, for a later claim
 */
function decideClaim(row: Row, now: Date, options: ClaimOptions, result: ClaimResult): ClaimDecision | null {
  const ref = toRef(row);
  const schedule = { cron: row.cron as string, timeZone: row.time_zone as string };
  const due = new Date(row.next_fire_at as number);
  const leaseExpiresAt = row.lease_expires_at === null ? null : new Date(row.lease_expires_at as number);
  if (leaseExpiresAt && leaseExpiresAt > now) {
    // A held lease may belong to a run that is done but whose end has not committed yet (ends are group commits,
    // possibly of another replica, and a claim can come first): the tick waits for it until the following tick
    // comes, so a commit's latency never costs a tick. Only a run still going then makes its tick skip, and the
    // latest tick that has come takes the skipped one's place, waiting in turn.
    if (options.nextFireTime(schedule, due) > now) return null;
    result.skippedOverlap.push({ integration: ref, scheduledFor: due });
    return { id: ref.id, nextFireAt: fireTimeAfterLate(schedule, due, now, options), start: null, releaseLease: false };
  }
  const abandons = Boolean(row.lease_run_id);
  if (abandons) {
    result.abandoned.push({
      integration: ref,
      runId: row.lease_run_id as string,
      replicaId: row.lease_owner as string,
    });
  }
  const missed = now.getTime() - due.getTime() > options.misfireThresholdMs;
  if (missed && row.misfire_policy === 'skip') {
    result.skippedMisfire.push({ integration: ref, scheduledFor: due });
    return { id: ref.id, nextFireAt: options.nextFireTime(schedule, now), start: null, releaseLease: abandons };
  }
  const nextFireAt = fireTimeAfterLate(schedule, due, now, options);
  const before: Watermark | null = row.has_status
    ? {
        maxSyncDateTime: row.max_sync_date_time as string | null,
        maxSyncDateTimeUtc: row.max_sync_date_time_utc as string | null,
        maxSyncDateMaxPkId: row.max_sync_pk_id as string | null,
      }
    : null;
  return { id: ref.id, nextFireAt, start: { scheduledFor: due, before }, releaseLease: abandons };
}

/**
 * The fire time to store once the tick `due` is decided at `now`. A claim late by less than a period leaves the tick
 * that has come since due, to run on its own after this one (a claim delayed by load costs no tick). A later claim
 * runs once, keyed by the oldest due fire time, and folds the fire times that also passed into that run instead of
 * replaying them back to back: one catch-up run, not one per missed tick.
 */
function fireTimeAfterLate(schedule: ScheduleSpec, due: Date, now: Date, options: ClaimOptions): Date {
  const following = options.nextFireTime(schedule, due);
  if (following > now || options.nextFireTime(schedule, following) > now) return following;
  return options.nextFireTime(schedule, now);
}

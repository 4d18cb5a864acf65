import { Inject, Injectable, Optional } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { DEFAULT_EVENT_SETTINGS, finishEventCandidates, type EventSettings } from '../events/finish-events';
import { TIDEMARK_DATA_SOURCE } from './data-source';
import { eventsJson, finishEventsCte } from './event-outbox';
import { epochMs, floorToMicroseconds, RUN_COLUMNS, toRun, watermarkOf, type Row } from './rows';
import { NOTIFY_IDS_PER_PAYLOAD, STATE_CHANNEL } from './state-notifications';
import type { Page, RunCompletion, RunRecord, StartedRun } from './types';

/**
 * `zoneNewlyAssumed`: this run stored a watermark read in an assumed zone where the integration's previous one had an
 * offset (or there was none); decided under the integration's row lock, so exactly one run reports it.
 */
export type FinishResult = { applied: boolean; finished: RunRecord | null; zoneNewlyAssumed?: boolean };
export type FinishItem = { started: StartedRun; completion: RunCompletion };

type Succeeded = Extract<RunCompletion, { outcome: 'succeeded' }>;
const succeeded = (completion: RunCompletion): completion is Succeeded => completion.outcome === 'succeeded';

/**
 * Records every run's end in one statement, the only code that writes a watermark. Outside an explicit transaction
 * the statement is atomic: each run's row and its integration's state commit together, or nothing of the batch does.
 *
 * - `locked` takes the integration rows in id order (the order config syncs lock them in, so the two can't
 *   deadlock); `u` waits for it (an InitPlan over `locked` runs before `u` yields a row), so every integration is
 *   locked before a run row is written: integration first, then run, the lock order of claims and reaps.
 * - `r` ends only runs still `running`: one whose lease expired was marked abandoned by another replica, and the
 *   state belongs to whoever holds the lease now.
 * - `wins` and `losses` update the integrations of the runs `r` ended. Only a success touches the watermark; a
 *   lease is released only if this run holds it.
 * - `events` writes the outbox events of the applied runs (see finishEventsCte), so an event exists if and only if
 *   its run end committed.
 * - `audited` appends the audit entry of each applied manual run someone asked for, so the trail records who ran
 *   it exactly when its end is recorded.
 * - `n` notifies the replicas' caches of the changed integrations, delivered on commit.
 */
const FINISH_RUNS = `
  WITH batch AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb)
      AS b(run_id bigint, integration_id bigint, outcome text, error_code text, error text, http_status int,
           status jsonb, attempts jsonb, outcome_unknown_retried boolean, watermark_regressed boolean,
           max_sync_at timestamptz, zone_assumed text, audit jsonb)
  ),
  locked AS MATERIALIZED (
    SELECT i.id, i.max_sync_zone_assumed AS zone_before
    FROM integration i WHERE i.id = ANY($2::bigint[]) ORDER BY i.id FOR UPDATE
  ),
  u AS MATERIALIZED (
    SELECT b.* FROM batch b WHERE (SELECT count(*) FROM locked) >= 0
  ),
  r AS (
    UPDATE run r SET outcome = u.outcome, finished_at = clock_timestamp(), error_code = u.error_code, error = u.error,
      http_status = u.http_status, status = u.status, attempts = u.attempts,
      watermark_after = CASE WHEN u.status IS NULL THEN NULL ELSE jsonb_build_object(
        'maxSyncDateTime', u.status->'maxSyncDateTime',
        'maxSyncDateTimeUtc', u.status->'maxSyncDateTimeUtc',
        'maxSyncDateMaxPkId', u.status->'maxSyncDateMaxPkId') END,
      outcome_unknown_retried = u.outcome_unknown_retried, watermark_regressed = u.watermark_regressed
    FROM u
    WHERE r.id = u.run_id AND r.outcome = 'running'
    RETURNING r.id, r.replica_id, r.started_at, r.finished_at
  ),
  applied AS (SELECT u.* FROM u JOIN r ON r.id = u.run_id),
  wins AS (
    UPDATE integration i SET
      last_status = a.status,
      max_sync_date_time = a.status->>'maxSyncDateTime',
      max_sync_date_time_utc = a.status->>'maxSyncDateTimeUtc',
      max_sync_at = a.max_sync_at,
      max_sync_pk_id = (a.status->>'maxSyncDateMaxPkId')::bigint,
      custom_database_values = NULLIF(a.status->'customDatabaseValues', 'null'::jsonb),
      max_sync_zone_assumed = a.zone_assumed,
      last_succeeded_at = clock_timestamp(), consecutive_failures = 0, last_run_id = a.run_id,
      version = i.version + 1, updated_at = clock_timestamp(),
      lease_owner = CASE WHEN i.lease_run_id = a.run_id THEN NULL ELSE i.lease_owner END,
      lease_expires_at = CASE WHEN i.lease_run_id = a.run_id THEN NULL ELSE i.lease_expires_at END,
      lease_run_id = CASE WHEN i.lease_run_id = a.run_id THEN NULL ELSE i.lease_run_id END
    FROM applied a
    WHERE i.id = a.integration_id AND a.outcome = 'succeeded'
  ),
  losses AS (
    UPDATE integration i SET
      consecutive_failures = i.consecutive_failures + CASE WHEN a.outcome = 'failed' THEN 1 ELSE 0 END,
      last_run_id = a.run_id, version = i.version + 1, updated_at = clock_timestamp(),
      lease_owner = CASE WHEN i.lease_run_id = a.run_id THEN NULL ELSE i.lease_owner END,
      lease_expires_at = CASE WHEN i.lease_run_id = a.run_id THEN NULL ELSE i.lease_expires_at END,
      lease_run_id = CASE WHEN i.lease_run_id = a.run_id THEN NULL ELSE i.lease_run_id END
    FROM applied a
    WHERE i.id = a.integration_id AND a.outcome <> 'succeeded'
    RETURNING i.id AS integration_id, i.consecutive_failures
  ),
  audited AS (
    INSERT INTO audit (actor, action, source_system_id, integration_name, integration_id, reason, before, after)
    SELECT a.audit->>'actor', 'run', (a.audit->>'sourceSystemId')::int, a.audit->>'integrationName', a.integration_id,
           NULL, a.audit->'before', a.audit->'after'
    FROM applied a WHERE a.audit IS NOT NULL ORDER BY a.run_id
  ),
  ${finishEventsCte('$3::jsonb', '$4::int')},
  n AS (
    SELECT pg_notify($5, string_agg(c.id::text, ',')) FROM (
      SELECT a.integration_id AS id, (row_number() OVER () - 1) / $6 AS chunk FROM applied a
    ) c
    GROUP BY c.chunk
  )
  SELECT r.id::text AS id, r.replica_id, ${epochMs('r.started_at')} AS started_at,
         ${epochMs('r.finished_at')} AS finished_at, (SELECT count(*) FROM n) AS notified,
         (a.outcome = 'succeeded' AND a.zone_assumed IS NOT NULL AND l.zone_before IS NULL) AS zone_newly_assumed
  FROM r
  JOIN applied a ON a.run_id = r.id
  JOIN locked l ON l.id = a.integration_id`;

/**
 * One run's row of the batch document that FINISH_RUNS reads with `jsonb_to_recordset`: one parameter for the whole
 * batch, which pg sends as it is and Postgres parses once, where an array parameter per column had every element
 * escaped into an array literal (a status's JSON twice over). Ids are decimal text (bigint input). Plain texts are
 * made well-formed, as the UTF-8 encoding of a text parameter made them (a lone surrogate becomes U+FFFD), since
 * jsonb refuses a lone surrogate's escape; the status and attempts go in as the jsonb they always were.
 */
function batchRowOf({ started, completion }: FinishItem) {
  const won = succeeded(completion);
  const utc = won ? completion.status.maxSyncDateTimeUtc : null;
  return {
    run_id: started.runId,
    integration_id: started.integration.id,
    outcome: completion.outcome,
    error_code: won ? null : completion.errorCode.toWellFormed(),
    error: won ? null : completion.error.toWellFormed(),
    http_status: completion.httpStatus,
    status: won ? completion.status : null,
    attempts: completion.attempts,
    outcome_unknown_retried: completion.outcomeUnknownRetried,
    watermark_regressed: won && completion.watermarkRegressed,
    max_sync_at: utc ? floorToMicroseconds(utc) : null,
    zone_assumed: won ? (completion.zoneAssumed?.toWellFormed() ?? null) : null,
    audit: started.requestedBy === undefined ? null : runAuditOf(started, completion),
  };
}

/** The audit entry of a manual run's end: who asked, and the watermark before and after (unchanged unless won). */
function runAuditOf(started: StartedRun, completion: RunCompletion) {
  const won = succeeded(completion);
  return {
    actor: started.requestedBy!.toWellFormed(),
    sourceSystemId: started.integration.sourceSystemId,
    integrationName: started.integration.integrationName.toWellFormed(),
    before: { watermark: started.watermarkBefore },
    after: {
      runId: started.runId,
      outcome: completion.outcome,
      errorCode: won ? null : completion.errorCode.toWellFormed(),
      watermark: won ? watermarkOf(completion.status) : started.watermarkBefore,
    },
  };
}

/** Run ends and run history: the only code that finishes runs, reads their history and prunes it. */
@Injectable()
export class RunsRepository {
  /** How the outbox events written with run ends are made. */
  private readonly eventSettings: EventSettings;

  constructor(
    @Inject(TIDEMARK_DATA_SOURCE) private readonly dataSource: DataSource,
    @Optional() @Inject(APP_CONFIG) config?: AppConfig,
  ) {
    this.eventSettings = config
      ? { source: config.events.source, failureRepeat: config.events.failureRepeat }
      : DEFAULT_EVENT_SETTINGS;
  }

  /**
   * Ends a run and updates its integration, a batch of one of {@link finishRuns}.
   * @returns `applied: false` when the run is no longer `running` (another replica marked it abandoned)
   */
  async finishRun(started: StartedRun, completion: RunCompletion): Promise<FinishResult> {
    const [result] = await this.finishRuns([{ started, completion }]);
    return result;
  }

  /**
   * Finishes many runs in one statement (group commit): each run's row and its integration's state commit together,
   * and one commit serves the batch. A run that is no longer `running` is left alone and answered `applied: false`.
   * If the statement fails, none of the batch is written and the error is thrown: callers that can't tell a bad run
   * from a bad batch retry the runs one by one.
   * @param items at most one run per integration
   * @returns one result per item, in order
   */
  async finishRuns(items: readonly FinishItem[]): Promise<FinishResult[]> {
    if (items.length === 0) return [];
    const integrationIds = items.map((item) => item.started.integration.id);
    if (new Set(integrationIds).size !== integrationIds.length) {
      throw new Error('finishRuns: a batch holds at most one run per integration');
    }
    const events = eventsJson(finishEventCandidates(items, this.eventSettings));
    const rows: Row[] = await this.dataSource.query(FINISH_RUNS, [
      JSON.stringify(items.map(batchRowOf)),
      integrationIds,
      events,
      this.eventSettings.failureRepeat,
      STATE_CHANNEL,
      NOTIFY_IDS_PER_PAYLOAD,
    ]);
    // The rest of each record is what the statement wrote, so the written jsonb columns are not read back.
    const writtenById = new Map(rows.map((row) => [row.id as string, row]));
    return items.map(({ started, completion }) => {
      const written = writtenById.get(started.runId);
      if (written === undefined) return { applied: false, finished: null };
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
        watermarkAfter: succeeded(completion) ? watermarkOf(completion.status) : null,
        attempts: completion.attempts,
        outcomeUnknownRetried: completion.outcomeUnknownRetried,
        watermarkRegressed: succeeded(completion) ? completion.watermarkRegressed : false,
      };
      return { applied: true, finished, zoneNewlyAssumed: written.zone_newly_assumed === true };
    });
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

  /** Deletes finished runs that started more than `days` ago, at most `batchSize` per call, never a last run. */
  async pruneRunHistory(days: number, batchSize: number): Promise<number> {
    const [row]: Row[] = await this.dataSource.query(
      `WITH pruned AS (
         DELETE FROM run WHERE id IN (
           SELECT r.id FROM run r
           WHERE r.started_at < now() - make_interval(days => $1) AND r.outcome <> 'running'
             AND NOT EXISTS (SELECT 1 FROM integration i WHERE i.last_run_id = r.id)
           ORDER BY r.started_at LIMIT $2
           FOR UPDATE SKIP LOCKED)
         RETURNING id
       )
       SELECT count(*)::int AS n FROM pruned`,
      [days, batchSize],
    );
    return row.n as number;
  }
}

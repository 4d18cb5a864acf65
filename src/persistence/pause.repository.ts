import { Inject, Injectable, Optional } from '@nestjs/common';
import type { DataSource, EntityManager } from 'typeorm';
import { AuditRepository, SYSTEM_ACTOR, type AuditEntry } from './audit.repository';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { DEFAULT_EVENT_SETTINGS, pauseEvent, type EventSettings } from '../events/finish-events';
import { TIDEMARK_DATA_SOURCE } from './data-source';
import { insertEvents } from './event-outbox';
import { notifyChanged } from './state-notifications';
import type { IntegrationRef, NextFireTime } from './types';

/** An integration's pause as stored; all null but `paused` while it runs on schedule. */
export interface PauseState {
  paused: boolean;
  reason: string | null;
  pausedBy: string | null;
  pausedAt: Date | null;
  /** When the pause ends by itself; null: until someone resumes it. */
  until: Date | null;
}

/** Which integrations an action is for: one by id, or every one of a source system. */
export type PauseTarget = { integrationId: string } | { sourceSystemId: number };

/** The integrations an action changed, with the state before and after. */
export interface PauseChange extends IntegrationRef {
  before: PauseState;
  after: PauseState;
  /** The next fire time a resume set (UTC); null for a pause. */
  nextFireAt: Date | null;
}

/** Most integrations one tick resumes; the rest wait for the next tick. */
const AUTO_RESUME_BATCH = 100;

type Row = Record<string, unknown>;

const LOCKED_COLUMNS = `id::text AS id, source_system_id, integration_name, cron, time_zone, paused, pause_reason,
  paused_by, paused_at, paused_until`;

/**
 * Pauses and resumes integrations, each change in one transaction with its audit entries and the state
 * notification every replica's read cache listens to. Rows are locked (integration row first, as everywhere) before
 * they are read, so two operators, or an operator and an automatic resume on another replica, never interleave.
 */
@Injectable()
export class PauseRepository {
  /** How the outbox events written with pauses and resumes are made. */
  private readonly eventSettings: EventSettings;

  constructor(
    @Inject(TIDEMARK_DATA_SOURCE) private readonly dataSource: DataSource,
    private readonly audit: AuditRepository,
    @Optional() @Inject(APP_CONFIG) config?: AppConfig,
  ) {
    this.eventSettings = config
      ? { source: config.events.source, failureRepeat: config.events.failureRepeat }
      : DEFAULT_EVENT_SETTINGS;
  }

  /** The pauses of these integrations, by id (missing ids are left out). */
  async findPauses(integrationIds: readonly string[]): Promise<Map<string, PauseState>> {
    const rows: Row[] = await this.dataSource.query(
      `SELECT ${LOCKED_COLUMNS} FROM integration WHERE id = ANY($1::bigint[])`,
      [integrationIds],
    );
    return new Map(rows.map((row) => [row.id as string, pauseOf(row)]));
  }

  /** The pause of one integration, or null when there is no such integration. */
  async findPause(integrationId: string): Promise<PauseState | null> {
    const rows: Row[] = await this.dataSource.query(`SELECT ${LOCKED_COLUMNS} FROM integration WHERE id = $1`, [
      integrationId,
    ]);
    return rows[0] ? pauseOf(rows[0]) : null;
  }

  /**
   * Pauses the target's integrations: one integration whatever its state (a second pause replaces the reason and
   * end), or every integration of a source system that is not paused yet.
   * @returns what changed, in (sourceSystemId, integrationName) order
   */
  async pause(
    target: PauseTarget,
    change: { actor: string; reason: string; until: Date | null },
  ): Promise<PauseChange[]> {
    return this.dataSource.transaction(async (tx) => {
      const rows = await lockTargets(tx, target, 'NOT paused');
      if (rows.length === 0) return [];
      const ids = rows.map((row) => row.id as string);
      await tx.query(
        `UPDATE integration SET paused = true, pause_reason = $2, paused_by = $3, paused_at = now(), paused_until = $4,
           version = version + 1, updated_at = now()
         WHERE id = ANY($1::bigint[])`,
        [ids, change.reason, change.actor, change.until?.toISOString() ?? null],
      );
      const now = await dbNow(tx);
      const after: PauseState = {
        paused: true,
        reason: change.reason,
        pausedBy: change.actor,
        pausedAt: now,
        until: change.until,
      };
      const changes = rows.map((row) => ({ ...refOf(row), before: pauseOf(row), after, nextFireAt: null }));
      await this.record(tx, changes, 'pause', change.actor, change.reason);
      return changes;
    });
  }

  /**
   * Resumes the target's integrations from the first fire time after now (database clock), so a long pause does not
   * look like a misfire: one integration whatever its state, or every paused integration of a source system.
   */
  async resume(target: PauseTarget, actor: string, nextFireTime: NextFireTime): Promise<PauseChange[]> {
    return this.dataSource.transaction(async (tx) => {
      const rows = await lockTargets(tx, target, 'paused');
      return this.resumeLocked(tx, rows, actor, null, nextFireTime);
    });
  }

  /**
   * Resumes integrations whose pause has ended (`paused_until` passed by the database clock), recording `system` as
   * the actor. Safe on every replica at once: rows another replica is resuming are skipped, and once it commits
   * they are no longer paused.
   */
  async resumeEnded(nextFireTime: NextFireTime): Promise<PauseChange[]> {
    // Every tick asks; one indexed read, without a transaction, answers the usual "none".
    const [due]: Row[] = await this.dataSource.query(
      `SELECT EXISTS (SELECT 1 FROM integration WHERE paused AND paused_until <= now()) AS due`,
    );
    if (!due?.due) return [];
    return this.dataSource.transaction(async (tx) => {
      const rows: Row[] = await tx.query(
        `SELECT ${LOCKED_COLUMNS} FROM integration
         WHERE paused AND paused_until <= now()
         ORDER BY paused_until, integration.id LIMIT $1
         FOR UPDATE SKIP LOCKED`,
        [AUTO_RESUME_BATCH],
      );
      return this.resumeLocked(tx, rows, SYSTEM_ACTOR, 'the pause ended', nextFireTime);
    });
  }

  private async resumeLocked(
    tx: EntityManager,
    rows: Row[],
    actor: string,
    reason: string | null,
    nextFireTime: NextFireTime,
  ): Promise<PauseChange[]> {
    if (rows.length === 0) return [];
    const now = await dbNow(tx);
    const next = rows.map((row) => nextFireTime({ cron: row.cron as string, timeZone: row.time_zone as string }, now));
    await tx.query(
      `UPDATE integration SET paused = false, pause_reason = NULL, paused_by = NULL, paused_at = NULL,
         paused_until = NULL, next_fire_at = u.next_fire_at, version = version + 1, updated_at = now()
       FROM unnest($1::bigint[], $2::timestamptz[]) AS u(id, next_fire_at)
       WHERE integration.id = u.id`,
      [rows.map((row) => row.id as string), next.map((at) => at.toISOString())],
    );
    const after: PauseState = { paused: false, reason: null, pausedBy: null, pausedAt: null, until: null };
    const changes = rows.map((row, i) => ({ ...refOf(row), before: pauseOf(row), after, nextFireAt: next[i] }));
    await this.record(tx, changes, 'resume', actor, reason);
    return changes;
  }

  private async record(
    tx: EntityManager,
    changes: PauseChange[],
    action: 'pause' | 'resume',
    actor: string,
    reason: string | null,
  ): Promise<void> {
    const entries: AuditEntry[] = changes.map((change) => ({
      actor,
      action,
      sourceSystemId: change.sourceSystemId,
      integrationName: change.integrationName,
      integrationId: change.id,
      reason,
      before: pauseDocument(change.before),
      after: {
        ...pauseDocument(change.after),
        ...(change.nextFireAt ? { nextFireAt: change.nextFireAt.toISOString() } : {}),
      },
    }));
    await this.audit.append(entries, tx);
    // An action that changes an integration's paused flag is an event, committed with the change or not at all.
    const events = changes
      .filter((change) => change.before.paused !== change.after.paused)
      .map((change) => pauseEvent(change, change.after.paused, change.nextFireAt, this.eventSettings));
    if (events.length > 0) await insertEvents(tx, events);
    await notifyChanged(
      tx,
      changes.map((change) => change.id),
    );
  }
}

/**
 * Locks the target's rows. A single integration is taken whatever its state; a source system's are filtered by
 * `stateFilter` (only those the action changes), locked in id order like every other writer's, so two writers never
 * wait on each other crosswise, and returned in name order, the order of the answer and the audit entries.
 */
async function lockTargets(
  tx: EntityManager,
  target: PauseTarget,
  stateFilter: 'paused' | 'NOT paused',
): Promise<Row[]> {
  if ('integrationId' in target) {
    return tx.query(`SELECT ${LOCKED_COLUMNS} FROM integration WHERE id = $1 FOR UPDATE`, [target.integrationId]);
  }
  return tx.query(
    `WITH locked AS MATERIALIZED (
       SELECT ${LOCKED_COLUMNS} FROM integration
       WHERE source_system_id = $1 AND ${stateFilter === 'paused' ? 'paused' : 'NOT paused'}
       ORDER BY integration.id FOR UPDATE
     )
     SELECT * FROM locked ORDER BY integration_name`,
    [target.sourceSystemId],
  );
}

/** The pause as an audit document: ISO UTC instants, fixed key order. */
export function pauseDocument(state: PauseState): Record<string, unknown> {
  return {
    paused: state.paused,
    reason: state.reason,
    pausedBy: state.pausedBy,
    pausedAt: state.pausedAt?.toISOString() ?? null,
    until: state.until?.toISOString() ?? null,
  };
}

async function dbNow(tx: EntityManager): Promise<Date> {
  const [row]: Row[] = await tx.query('SELECT now() AS now');
  return row.now as Date;
}

function refOf(row: Row): IntegrationRef {
  return {
    id: row.id as string,
    sourceSystemId: row.source_system_id as number,
    integrationName: row.integration_name as string,
  };
}

function pauseOf(row: Row): PauseState {
  return {
    paused: row.paused as boolean,
    reason: row.pause_reason as string | null,
    pausedBy: row.paused_by as string | null,
    pausedAt: row.paused_at as Date | null,
    until: row.paused_until as Date | null,
  };
}

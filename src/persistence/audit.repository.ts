import { Inject, Injectable } from '@nestjs/common';
import type { DataSource, EntityManager } from 'typeorm';
import { TIDEMARK_DATA_SOURCE } from './data-source';
import type { Page } from './types';

/** What operators (or the scheduler, as `system`) did to an integration. */
export type AuditAction = 'run' | 'pause' | 'resume';

/** The actor recorded for what the service does by itself (a pause that ends at its `until`). */
export const SYSTEM_ACTOR = 'system';

/** One entry to append. `before` and `after` are small JSON documents of the state the action changed. */
export interface AuditEntry {
  actor: string;
  action: AuditAction;
  sourceSystemId: number;
  integrationName: string;
  /** Database id (bigint as a decimal string). */
  integrationId: string | null;
  reason: string | null;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
}

/** An entry as stored. */
export interface AuditRecord extends AuditEntry {
  id: string;
  at: Date;
}

type Row = Record<string, unknown>;

const AUDIT_COLUMNS = `id::text AS id, at, actor, action, source_system_id, integration_name,
  integration_id::text AS integration_id, reason, before, after`;

/**
 * The audit trail: append and read, nothing else. No code path updates or deletes an entry; entries are written in
 * the same transaction as the change they describe (pass that transaction's manager), so a change is never without
 * its entry nor an entry without its change.
 */
@Injectable()
export class AuditRepository {
  constructor(@Inject(TIDEMARK_DATA_SOURCE) private readonly dataSource: DataSource) {}

  /** Appends entries in one statement, in order (ids rise with the array index). */
  async append(entries: readonly AuditEntry[], on: EntityManager = this.dataSource.manager): Promise<void> {
    if (entries.length === 0) return;
    await on.query(
      `INSERT INTO audit (actor, action, source_system_id, integration_name, integration_id, reason, before, after)
       SELECT actor, action, source_system_id, integration_name, integration_id, reason, before, after
       FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::bigint[], $6::text[], $7::jsonb[], $8::jsonb[])
         WITH ORDINALITY AS e(actor, action, source_system_id, integration_name, integration_id, reason, before, after, n)
       ORDER BY n`,
      [
        entries.map((e) => e.actor),
        entries.map((e) => e.action),
        entries.map((e) => e.sourceSystemId),
        entries.map((e) => e.integrationName),
        entries.map((e) => e.integrationId),
        entries.map((e) => e.reason),
        entries.map((e) => (e.before === null ? null : JSON.stringify(e.before))),
        entries.map((e) => (e.after === null ? null : JSON.stringify(e.after))),
      ],
    );
  }

  /**
   * Entries newest first, with ids below `beforeId`, optionally of one source system, or of one integration (by
   * identity, so entries outlive their integration's row).
   * @param options.limit page size; one more row is read to know whether more follow
   */
  async list(options: {
    limit: number;
    sourceSystemId?: number;
    integrationName?: string;
    beforeId?: string;
  }): Promise<Page<AuditRecord>> {
    const params: unknown[] = [options.limit + 1];
    const where: string[] = [];
    if (options.sourceSystemId !== undefined) {
      params.push(options.sourceSystemId);
      where.push(`source_system_id = $${params.length}`);
    }
    if (options.integrationName !== undefined) {
      params.push(options.integrationName);
      where.push(`integration_name = $${params.length}`);
    }
    if (options.beforeId !== undefined) {
      params.push(options.beforeId);
      where.push(`audit.id < $${params.length}::bigint`);
    }
    const rows: Row[] = await this.dataSource.query(
      `SELECT ${AUDIT_COLUMNS} FROM audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY audit.id DESC LIMIT $1`,
      params,
    );
    return { items: rows.slice(0, options.limit).map(toAuditRecord), hasMore: rows.length > options.limit };
  }
}

function toAuditRecord(row: Row): AuditRecord {
  return {
    id: row.id as string,
    at: row.at as Date,
    actor: row.actor as string,
    action: row.action as AuditAction,
    sourceSystemId: row.source_system_id as number,
    integrationName: row.integration_name as string,
    integrationId: row.integration_id as string | null,
    reason: row.reason as string | null,
    before: row.before as Record<string, unknown> | null,
    after: row.after as Record<string, unknown> | null,
  };
}

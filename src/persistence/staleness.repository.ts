import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { NewEvent } from '../events/event-types';
import type { StaleBound } from '../events/stale-bounds';
import { TIDEMARK_DATA_SOURCE } from './data-source';

/** One enabled integration as the staleness decider reads it. */
export interface StalenessRow {
  id: string;
  sourceSystemId: number;
  integrationName: string;
  cron: string;
  timeZone: string;
  paused: boolean;
  lastSucceededAtSeconds: number | null;
  /** Exact text of last_succeeded_at, to guard the flip against a success that lands meanwhile. */
  lastSucceededAtText: string | null;
  createdAtSeconds: number;
  nowSeconds: number;
  stale: boolean;
}

/**
 * What lets a staleness check leave out integrations that cannot be stale: the fixed threshold (STALE_AFTER_MS), or
 * for the 3x-interval rule (`staleAfterMs` null) lower bounds of the threshold per schedule.
 */
export interface StalenessSkip {
  staleAfterMs: number | null;
  bounds: readonly StaleBound[];
}

/** A stale flag to flip, with the event that reports the flip. */
export interface StalenessFlip {
  integrationId: string;
  stale: boolean;
  lastSucceededAtText: string | null;
  event: NewEvent;
}

type Row = Record<string, unknown>;

/**
 * The stale flags (`integration_staleness`): the only code that reads or writes them. A flip inserts the event that
 * reports it in the same statement.
 */
@Injectable()
export class StalenessRepository {
  constructor(@Inject(TIDEMARK_DATA_SOURCE) private readonly dataSource: DataSource) {}

  /**
   * Enabled, unpaused integrations with what the staleness rule needs and their stored stale flags, in id order: the
   * first `limit` with an id above `afterId` (keyset pages, so that a caller can read thousands a page at a time).
   * Paused ones are left out: their flags stay as they are. With `skip`, so are those that cannot be stale now: flag
   * off and an age (from the last success, else creation, on the database's clock) a second or more below the fixed
   * threshold, or below their schedule's bound with the baseline inside the bound's window.
   */
  async stalenessRows(afterId: string, limit: number, skip?: StalenessSkip): Promise<StalenessRow[]> {
    const rows: Row[] = await this.dataSource.query(
      // `fresh_from`: a baseline at or after it is at least a second younger than the threshold; a surely fresh
      // integration is one whose baseline lies in [fresh_from, until], with its schedule's bound or the fixed rule's.
      `WITH b AS MATERIALIZED (
         SELECT b.cron, b.time_zone, b.until_at,
                greatest(b.since_at, now() - make_interval(secs => (b.min_threshold_ms - 1000) / 1000)) AS fresh_from
         FROM jsonb_to_recordset($3::jsonb)
           AS b(cron text, time_zone text, since_at timestamptz, until_at timestamptz, min_threshold_ms float8)
       ),
       fixed AS MATERIALIZED (
         SELECT now() - make_interval(secs => ($4::float8 - 1000) / 1000) AS fresh_from, 'infinity'::timestamptz AS until_at
       )
       SELECT i.id::text AS id, i.source_system_id, i.integration_name, i.cron, i.time_zone, i.paused,
              extract(epoch FROM i.last_succeeded_at)::float8 AS last_succeeded_s,
              i.last_succeeded_at::text AS last_succeeded_text,
              extract(epoch FROM i.created_at)::float8 AS created_s,
              extract(epoch FROM now())::float8 AS now_s,
              coalesce(s.stale, false) AS stale
       FROM integration i
       CROSS JOIN fixed
       LEFT JOIN integration_staleness s ON s.integration_id = i.id
       LEFT JOIN b ON $4::float8 IS NULL AND b.cron = i.cron AND b.time_zone = i.time_zone
       WHERE i.enabled AND NOT i.paused AND i.id > $1::bigint
         AND (coalesce(s.stale, false) OR NOT coalesce(
               coalesce(i.last_succeeded_at, i.created_at) BETWEEN coalesce(b.fresh_from, fixed.fresh_from)
                                                             AND coalesce(b.until_at, fixed.until_at),
               false))
       ORDER BY i.id
       LIMIT $2`,
      [afterId, limit, JSON.stringify(skip ? boundRows(skip.bounds) : []), skip?.staleAfterMs ?? null],
    );
    return rows.map((row) => ({
      id: row.id as string,
      sourceSystemId: row.source_system_id as number,
      integrationName: row.integration_name as string,
      cron: row.cron as string,
      timeZone: row.time_zone as string,
      paused: row.paused as boolean,
      lastSucceededAtSeconds: row.last_succeeded_s as number | null,
      lastSucceededAtText: row.last_succeeded_text as string | null,
      createdAtSeconds: row.created_s as number,
      nowSeconds: row.now_s as number,
      stale: row.stale as boolean,
    }));
  }

  /**
   * Flips stale flags and inserts the events of the flips that happened, in one statement. A flip happens only if
   * the flag still has the other value (so of replicas deciding together, one flips and emits) and the integration's
   * last success is still the one the decision saw.
   * @returns the integration ids flipped
   */
  async flipStaleness(flips: readonly StalenessFlip[]): Promise<string[]> {
    if (flips.length === 0) return [];
    const rows: Row[] = await this.dataSource.query(
      `WITH c AS (
         SELECT (x.doc->>'integration_id')::bigint AS integration_id, (x.doc->>'stale')::boolean AS stale,
                (x.doc->>'last_succeeded_at')::timestamptz AS last_succeeded_at, x.doc->>'type' AS type,
                x.doc->>'source' AS source, x.doc->>'subject' AS subject, x.doc->'data' AS data, x.n
         FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(doc, n)
       ),
       flipped AS (
         INSERT INTO integration_staleness AS s (integration_id, stale)
         SELECT c.integration_id, c.stale FROM c JOIN integration i ON i.id = c.integration_id
         WHERE i.last_succeeded_at IS NOT DISTINCT FROM c.last_succeeded_at
         ON CONFLICT (integration_id) DO UPDATE SET stale = EXCLUDED.stale, changed_at = now()
           WHERE s.stale <> EXCLUDED.stale
         RETURNING s.integration_id
       ),
       ev AS (
         INSERT INTO event (type, source, subject, integration_id, data)
         SELECT c.type, c.source, c.subject, c.integration_id, c.data
         FROM c JOIN flipped f ON f.integration_id = c.integration_id
         ORDER BY c.n
       )
       SELECT integration_id::text AS id FROM flipped`,
      [
        JSON.stringify(
          flips.map((f) => ({
            integration_id: f.integrationId,
            stale: f.stale,
            last_succeeded_at: f.lastSucceededAtText,
            type: f.event.type,
            source: f.event.source,
            subject: f.event.subject,
            data: f.event.data,
          })),
        ),
      ],
    );
    return rows.map((row) => row.id as string);
  }
}

/** The bounds as rows of the staleness query's `b` (one jsonb parameter). */
function boundRows(bounds: readonly StaleBound[]) {
  return bounds.map((b) => ({
    cron: b.cron,
    time_zone: b.timeZone,
    since_at: new Date(b.sinceMs).toISOString(),
    until_at: new Date(b.untilMs).toISOString(),
    min_threshold_ms: b.minThresholdMs,
  }));
}

import { Inject, Injectable } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { TIDEMARK_DATA_SOURCE } from './data-source';
import type { Page, RunOutcome, Watermark } from './types';

/** A finished or running run, reduced to what a sparkline shows. */
export interface RunSummary {
  id: string;
  outcome: RunOutcome;
  startedAt: Date;
  /** Null while running. */
  durationMs: number | null;
}

/** Per integration: when it was configured and its most recent runs, oldest first. */
export interface RecentRuns {
  integrationId: string;
  createdAt: Date;
  runs: RunSummary[];
}

/** One move of the stored watermark, and the run that made it. */
export interface WatermarkChange {
  runId: string;
  trigger: 'schedule' | 'manual';
  finishedAt: Date;
  before: Watermark | null;
  after: Watermark;
  regressed: boolean;
}

type Row = Record<string, unknown>;

/** Read-only views of the run history that the dashboard shows beside the state. */
@Injectable()
export class RunHistoryRepository {
  constructor(@Inject(TIDEMARK_DATA_SOURCE) private readonly dataSource: DataSource) {}

  /** The last `perIntegration` runs of each of the integrations, in one query (one index scan each). */
  async recentRuns(integrationIds: readonly string[], perIntegration: number): Promise<Map<string, RecentRuns>> {
    const rows: Row[] = await this.dataSource.query(
      `SELECT i.id::text AS integration_id, i.created_at, r.id::text AS run_id, r.outcome, r.started_at,
              (EXTRACT(EPOCH FROM (r.finished_at - r.started_at)) * 1000)::float8 AS duration_ms
       FROM integration i
       LEFT JOIN LATERAL (
         SELECT id, outcome, started_at, finished_at FROM run
         WHERE integration_id = i.id ORDER BY id DESC LIMIT $2
       ) r ON true
       WHERE i.id = ANY($1::bigint[])
       ORDER BY i.id, r.id`,
      [integrationIds, perIntegration],
    );
    const result = new Map<string, RecentRuns>();
    for (const row of rows) {
      const id = row.integration_id as string;
      let entry = result.get(id);
      if (!entry) {
        entry = { integrationId: id, createdAt: row.created_at as Date, runs: [] };
        result.set(id, entry);
      }
      if (row.run_id === null) continue;
      entry.runs.push({
        id: row.run_id as string,
        outcome: row.outcome as RunOutcome,
        startedAt: row.started_at as Date,
        durationMs: row.duration_ms === null ? null : Math.round(Number(row.duration_ms)),
      });
    }
    return result;
  }

  /**
   * The runs that changed the stored watermark (succeeded with an answer different from what was stored before),
   * newest first, with ids below `beforeId`.
   */
  async watermarkChanges(
    integrationId: string,
    options: { limit: number; beforeId?: string },
  ): Promise<Page<WatermarkChange>> {
    const params: unknown[] = [integrationId, options.limit + 1];
    if (options.beforeId !== undefined) params.push(options.beforeId);
    const rows: Row[] = await this.dataSource.query(
      `SELECT id::text AS id, trigger, finished_at, watermark_before, watermark_after, watermark_regressed
       FROM run
       WHERE integration_id = $1 AND outcome = 'succeeded' AND watermark_after IS NOT NULL
         AND watermark_after IS DISTINCT FROM watermark_before
         ${options.beforeId !== undefined ? 'AND run.id < $3::bigint' : ''}
       ORDER BY run.id DESC LIMIT $2`,
      params,
    );
    return {
      items: rows.slice(0, options.limit).map((row) => ({
        runId: row.id as string,
        trigger: row.trigger as WatermarkChange['trigger'],
        finishedAt: row.finished_at as Date,
        before: row.watermark_before as Watermark | null,
        after: row.watermark_after as Watermark,
        regressed: row.watermark_regressed as boolean,
      })),
      hasMore: rows.length > options.limit,
    };
  }
}

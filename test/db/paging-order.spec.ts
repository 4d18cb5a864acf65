import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataSource } from 'typeorm';
import { AuditRepository, type AuditEntry } from '../../src/persistence/audit.repository';
import { createDataSource, runMigrationsLocked } from '../../src/persistence/data-source';
import { IntegrationsRepository } from '../../src/persistence/integrations.repository';
import { RunHistoryRepository } from '../../src/persistence/run-history.repository';
import { nextFireTime } from '../../src/scheduler/cron-schedule';
import { createTestDatabase, type TestDatabase } from '../support/database';

/** Every page of a keyset listing, following `beforeId` from the last item of each page. */
async function allPages<T extends { id: string }>(
  page: (beforeId: string | undefined) => Promise<{ items: T[]; hasMore: boolean }>,
): Promise<T[][]> {
  const pages: T[][] = [];
  let beforeId: string | undefined;
  for (;;) {
    const { items, hasMore } = await page(beforeId);
    pages.push(items);
    if (!hasMore) return pages;
    beforeId = items[items.length - 1].id;
  }
}

// Ids are selected as text (bigint exceeds a JS number); the order must still be numeric, or a page boundary that
// crosses a power of ten (99 → 100) skips rows.
describe('keyset pages across a power of ten of ids, on real Postgres', () => {
  let db: TestDatabase;
  let dataSource: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase('paging');
    dataSource = createDataSource({ url: db.url, poolSize: 2, connectTimeoutMs: 5_000 });
    await dataSource.initialize();
    await runMigrationsLocked(dataSource);
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  it('lists audit entries 95 to 104 newest first, every entry once', async () => {
    await dataSource.query(`SELECT setval('audit_id_seq', 94)`);
    const audit = new AuditRepository(dataSource);
    const entries: AuditEntry[] = Array.from({ length: 10 }, (_, i) => ({
      actor: `operator-${95 + i}`,
      action: 'pause',
      sourceSystemId: 3,
      integrationName: 'Orders',
      integrationId: null,
      reason: null,
      before: null,
      after: null,
    }));
    await audit.append(entries);
    const pages = await allPages((beforeId) => audit.list({ limit: 4, beforeId }));
    expect(pages.map((p) => p.map((e) => e.id))).toStrictEqual([
      ['104', '103', '102', '101'],
      ['100', '99', '98', '97'],
      ['96', '95'],
    ]);
    expect(pages[1].map((e) => e.actor)).toStrictEqual(['operator-100', 'operator-99', 'operator-98', 'operator-97']);
  });

  it('lists watermark changes of runs 8 to 12 newest first, every change once', async () => {
    await new IntegrationsRepository(dataSource).syncIntegrations(
      [
        {
          sourceSystemId: 3,
          integrationName: 'Orders',
          cron: '0 0 1 1 *',
          timeZone: 'UTC',
          enabled: true,
          misfirePolicy: 'skip',
        },
      ],
      nextFireTime,
    );
    const [{ id: integrationId }] = await dataSource.query(`SELECT id::text AS id FROM integration`);
    await dataSource.query(`SELECT setval('run_id_seq', 7)`);
    await dataSource.query(
      `INSERT INTO run (integration_id, trigger, replica_id, finished_at, outcome, watermark_before, watermark_after)
       SELECT $1, 'manual', 'r1', clock_timestamp(), 'succeeded',
              jsonb_build_object('maxSyncDateMaxPkId', (n - 1)::text), jsonb_build_object('maxSyncDateMaxPkId', n::text)
       FROM generate_series(8, 12) AS n ORDER BY n`,
      [integrationId],
    );
    const history = new RunHistoryRepository(dataSource);
    const pages = await allPages(async (beforeId) => {
      const page = await history.watermarkChanges(integrationId, { limit: 2, beforeId });
      return { items: page.items.map((c) => ({ ...c, id: c.runId })), hasMore: page.hasMore };
    });
    expect(pages.map((p) => p.map((c) => [c.runId, c.after.maxSyncDateMaxPkId]))).toStrictEqual([
      [
        ['12', '12'],
        ['11', '11'],
      ],
      [
        ['10', '10'],
        ['9', '9'],
      ],
      [['8', '8']],
    ]);
  });
});

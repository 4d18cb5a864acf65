import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AppConfig } from '../../src/config';
import { staleBoundOf } from '../../src/events/stale-bounds';
import { StalenessDecider } from '../../src/events/staleness-decider';
import { createDataSource, runMigrationsLocked } from '../../src/persistence/data-source';
import { IntegrationsRepository } from '../../src/persistence/integrations.repository';
import { StalenessRepository } from '../../src/persistence/staleness.repository';
import { nextFireTime } from '../../src/scheduler/cron-schedule';
import { createTestDatabase, type TestDatabase } from '../support/database';

const YEARLY = '0 0 0 1 1 *';
const HOURLY = '0 0 * * * *';

/**
 * Which integrations a staleness check reads: with a skip, only those whose flag may have to flip. Every case is one
 * integration named after what it shows; its baseline is set on the database's clock.
 */
describe('StalenessRepository.stalenessRows (Postgres)', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let integrations: IntegrationsRepository;
  let staleness: StalenessRepository;
  const sql = (text: string, params: unknown[] = []): Promise<unknown[]> => dataSource.query(text, params);

  beforeAll(async () => {
    db = await createTestDatabase('staleness');
    dataSource = createDataSource({ url: db.url, poolSize: 4, connectTimeoutMs: 5_000 });
    await dataSource.initialize();
    await runMigrationsLocked(dataSource);
    integrations = new IntegrationsRepository(dataSource);
    staleness = new StalenessRepository(dataSource);
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  beforeEach(async () => {
    await sql('TRUNCATE event, integration_staleness, run, integration CASCADE');
  });

  /** Creates the integrations, each succeeded `ageMs` ago (null: never, created an hour ago), in this order. */
  async function given(cases: Array<{ name: string; cron?: string; ageMs: number | null }>): Promise<void> {
    await integrations.syncIntegrations(
      cases.map(({ name, cron }) => ({
        sourceSystemId: 5,
        integrationName: name,
        cron: cron ?? YEARLY,
        timeZone: 'UTC',
        enabled: true,
        misfirePolicy: 'fire_once_now' as const,
      })),
      nextFireTime,
    );
    await sql(`UPDATE integration SET created_at = now() - interval '1 hour'`);
    for (const { name, ageMs } of cases) {
      await sql(
        `UPDATE integration SET last_succeeded_at = now() - make_interval(secs => $2::double precision / 1000)
         WHERE integration_name = $1`,
        [name, ageMs],
      );
    }
  }

  const namesRead = async (skip: Parameters<StalenessRepository['stalenessRows']>[2]) => {
    const rows = await staleness.stalenessRows('0', 100, skip);
    return rows.map((row) => row.integrationName);
  };

  it('reads, under the fixed threshold, only flagged ones and those within a second of it or past it', async () => {
    await given([
      { name: 'fresh', ageMs: 10_000 },
      { name: 'a second short', ageMs: 59_500 },
      { name: 'past', ageMs: 120_000 },
      { name: 'flagged but fresh', ageMs: 10_000 },
      { name: 'paused and past', ageMs: 120_000 },
      { name: 'never succeeded', ageMs: null },
    ]);
    await sql(
      `INSERT INTO integration_staleness (integration_id, stale)
       SELECT id, true FROM integration WHERE integration_name = 'flagged but fresh'`,
    );
    await sql(`UPDATE integration SET paused = true WHERE integration_name = 'paused and past'`);
    expect(await namesRead({ staleAfterMs: 60_000, bounds: [] })).toStrictEqual([
      'a second short',
      'past',
      'flagged but fresh',
      'never succeeded',
    ]);
    expect(await namesRead(undefined)).toStrictEqual([
      'fresh',
      'a second short',
      'past',
      'flagged but fresh',
      'never succeeded',
    ]);
  });

  it('reads, under the interval rule, those whose schedule has no bound or whose baseline is outside its window', async () => {
    await given([
      { name: 'fresh', ageMs: 10_000 },
      { name: 'within the bound', ageMs: 9 * 60_000 },
      { name: 'a second short of the bound', ageMs: 10 * 60_000 - 500 },
      { name: 'before the window', ageMs: 2 * 86_400_000 },
      { name: 'no bound for its schedule', cron: HOURLY, ageMs: 10_000 },
    ]);
    const now = Date.now();
    const bound = {
      cron: YEARLY,
      timeZone: 'UTC',
      sinceMs: now - 86_400_000,
      untilMs: now + 3_600_000,
      minThresholdMs: 10 * 60_000,
    };
    expect(await namesRead({ staleAfterMs: null, bounds: [bound] })).toStrictEqual([
      'a second short of the bound',
      'before the window',
      'no bound for its schedule',
    ]);
  });

  it('lets a check of a thousand fresh integrations read none of them, and still flip the one gone stale', async () => {
    const names = Array.from({ length: 1_000 }, (_, i) => `F${String(i).padStart(4, '0')}`);
    await given([
      ...names.map((name) => ({ name, cron: HOURLY, ageMs: 5_000 })),
      { name: 'gone stale', cron: HOURLY, ageMs: 4 * 3_600_000 },
    ]);
    const config = {
      integrations: [{ cron: HOURLY, timeZone: 'UTC', enabled: true }],
      observability: { staleAfterMs: null },
      events: { source: 'urn:test' },
    } as unknown as AppConfig;
    await new StalenessDecider(staleness, config).check();
    expect(await sql(`SELECT type, subject, data->>'staleAfterMs' AS after FROM event ORDER BY id`)).toStrictEqual([
      { type: 'tidemark.integration.stale', subject: '5/gone stale', after: '10800000' },
    ]);
    const bound = staleBoundOf({ cron: HOURLY, timeZone: 'UTC' }, Date.now());
    expect(bound?.minThresholdMs).toBe(3 * 3_600_000);
    expect(await namesRead({ staleAfterMs: null, bounds: bound ? [bound] : [] })).toStrictEqual(['gone stale']);
  });
});

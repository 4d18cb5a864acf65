import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DataSource } from 'typeorm';
import { createDataSource, runMigrationsLocked } from '../../src/persistence/data-source';
import { ClaimsRepository } from '../../src/persistence/claims.repository';
import { IntegrationsRepository } from '../../src/persistence/integrations.repository';
import { RunsRepository } from '../../src/persistence/runs.repository';
import type { IntegrationRef, RunCompletion, StartedRun } from '../../src/persistence/types';
import { nextFireTime } from '../../src/scheduler/cron-schedule';
import { createTestDatabase, type TestDatabase } from '../support/database';

/**
 * When a tick runs relative to the previous run's lease and to the claim's lateness, by the database's clock. An
 * hourly cron keeps "the following tick has (not) come" stable for the few milliseconds a test takes.
 */
const HOURLY = '0 0 * * * *';
const FAILED: RunCompletion = {
  outcome: 'failed',
  errorCode: 'http_status',
  error: 'HTTP 500',
  httpStatus: 500,
  attempts: [],
  outcomeUnknownRetried: false,
};

describe('claim timing on real Postgres', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let claims: ClaimsRepository;
  let runs: RunsRepository;
  let orders: IntegrationRef;

  const sql = <T = Record<string, unknown>>(text: string, params: unknown[] = []) =>
    dataSource.query<T[]>(text, params);
  const claim = () =>
    claims.claimDue({ replicaId: 'r1', leaseMs: 30_000, misfireThresholdMs: 3_600_000, limit: 10, nextFireTime });
  /** The hour that began last (the tick that has come) as SQL, `hours` back from it. */
  const hourTick = (hours: number) => `date_trunc('hour', now()) - make_interval(hours => ${hours})`;
  const setDue = (hoursBack: number) => sql(`UPDATE integration SET next_fire_at = ${hourTick(hoursBack)}`);
  const stored = async () =>
    (await sql<{ next: Date; tick: Date }>(`SELECT next_fire_at AS next, ${hourTick(0)} AS tick FROM integration`))[0];

  beforeAll(async () => {
    db = await createTestDatabase('timing');
    dataSource = createDataSource({ url: db.url, poolSize: 4, connectTimeoutMs: 5_000 });
    await dataSource.initialize();
    await runMigrationsLocked(dataSource);
    claims = new ClaimsRepository(dataSource);
    runs = new RunsRepository(dataSource);
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  beforeEach(async () => {
    await sql('TRUNCATE run, integration RESTART IDENTITY CASCADE');
    await new IntegrationsRepository(dataSource).syncIntegrations(
      [
        {
          sourceSystemId: 1,
          integrationName: 'Orders',
          cron: HOURLY,
          timeZone: 'UTC',
          enabled: true,
          misfirePolicy: 'fire_once_now',
        },
      ],
      nextFireTime,
    );
    const [row] = await sql<{ id: string }>(`SELECT id::text AS id FROM integration`);
    orders = { id: row.id, sourceSystemId: 1, integrationName: 'Orders' };
  });

  it('a due tick waits while the previous run holds the lease, and runs once that run has ended', async () => {
    const previous = await claims.startManualRun(orders, 'r2', 30_000);
    await setDue(0);
    const { tick } = await stored();
    // The previous run may be done with its end not yet committed: the tick is neither run nor skipped, still due.
    expect(await claim()).toStrictEqual({ started: [], skippedOverlap: [], skippedMisfire: [], abandoned: [] });
    expect((await stored()).next).toStrictEqual(tick);

    expect((await runs.finishRun(previous, FAILED)).applied).toBe(true);
    const after = await claim();
    expect(after.started.map((s: StartedRun) => s.scheduledFor)).toStrictEqual([tick]);
    expect((await stored()).next.getTime()).toBe(tick.getTime() + 3_600_000);
  });

  it('skips a tick only once the following tick has come with the lease still held; that tick then waits in turn', async () => {
    await claims.startManualRun(orders, 'r2', 30_000);
    await setDue(1);
    const { tick } = await stored();
    const result = await claim();
    expect(result.started).toStrictEqual([]);
    expect(result.skippedOverlap.map((s) => s.scheduledFor)).toStrictEqual([new Date(tick.getTime() - 3_600_000)]);
    // The tick that has come since is due now, not the one after it.
    expect((await stored()).next).toStrictEqual(tick);
    expect(await claim()).toStrictEqual({ started: [], skippedOverlap: [], skippedMisfire: [], abandoned: [] });
  });

  it('a claim late by less than a period runs the late tick and leaves the tick that came since due, to run next', async () => {
    await setDue(1);
    const { tick } = await stored();
    const late = await claim();
    expect(late.started.map((s) => s.scheduledFor)).toStrictEqual([new Date(tick.getTime() - 3_600_000)]);
    expect((await stored()).next).toStrictEqual(tick);
    // While the late run holds the lease the next tick waits; once it has ended, the next tick runs.
    expect((await claim()).started).toStrictEqual([]);
    await runs.finishRun(late.started[0], FAILED);
    expect((await claim()).started.map((s) => s.scheduledFor)).toStrictEqual([tick]);
    const scheduled = await sql<{ scheduled_for: Date }>(`SELECT scheduled_for FROM run ORDER BY id`);
    expect(scheduled.map((r) => r.scheduled_for)).toStrictEqual([new Date(tick.getTime() - 3_600_000), tick]);
  });

  it('a claim later than a period folds the ticks that passed into one catch-up run', async () => {
    await setDue(3);
    const { tick } = await stored();
    const late = await claim();
    expect(late.started.map((s) => s.scheduledFor)).toStrictEqual([new Date(tick.getTime() - 3 * 3_600_000)]);
    expect((await stored()).next.getTime()).toBe(tick.getTime() + 3_600_000);
  });
});

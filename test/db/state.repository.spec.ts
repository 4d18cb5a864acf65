import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DataSource } from 'typeorm';
import type { IntegrationConfig } from '../../src/config';
import { Client } from 'pg';
import { createDataSource, runMigrationsLocked } from '../../src/persistence/data-source';
import { AuditRepository } from '../../src/persistence/audit.repository';
import { ClaimsRepository } from '../../src/persistence/claims.repository';
import { IntegrationsRepository } from '../../src/persistence/integrations.repository';
import { PauseRepository } from '../../src/persistence/pause.repository';
import { RunsRepository } from '../../src/persistence/runs.repository';
import { STATE_CHANNEL } from '../../src/persistence/state-notifications';
import { FinishBatcher } from '../../src/runs/finish-batcher';
import { isTransientDatabaseError } from '../../src/runs/run.service';
import { RunInProgressError, type NextFireTime, type StartedRun } from '../../src/persistence/types';
import { nextFireTime } from '../../src/scheduler/cron-schedule';
import type { IntegrationStatus } from '../../src/upstream/integration-status';
import { createTestDatabase, type TestDatabase } from '../support/database';

const config = (
  sourceSystemId: number,
  integrationName: string,
  extra: Partial<IntegrationConfig> = {},
): IntegrationConfig => ({
  sourceSystemId,
  integrationName,
  cron: '0 */5 * * * *',
  timeZone: 'UTC',
  enabled: true,
  misfirePolicy: 'fire_once_now',
  ...extra,
});

/** The vector int64-ids.json as the parser returns it. */
const INT64_STATUS: IntegrationStatus = {
  integrationName: 'Invoices',
  sourceSystemId: 12,
  lastRunStartDateTime: '2026-01-31T23:59:59.9999999+00:00',
  lastRunEndDateTime: '2026-01-31T23:59:59.9999999+00:00',
  processStatusMeaning: 'Complete',
  maxSyncDateTime: '2026-01-31T17:59:59.9999999-06:00',
  maxSyncDateTimeUtc: '2026-01-31T23:59:59.9999999Z',
  maxSyncDateMaxPkId: '9007199254740993',
  sourceId: '9223372036854775807',
  sourceIdString: 'ERP-12',
  customDatabaseValues: [],
};

const NO_ATTEMPTS = { attempts: [], outcomeUnknownRetried: false };

const claimOptions = (replicaId: string, extra: Partial<Parameters<ClaimsRepository['claimDue']>[0]> = {}) => ({
  replicaId,
  leaseMs: 30_000,
  misfireThresholdMs: 60_000,
  limit: 100,
  nextFireTime,
  ...extra,
});

describe('StateRepository on real Postgres', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let integrationsRepo: IntegrationsRepository;
  let runsRepo: RunsRepository;
  let claimsRepo: ClaimsRepository;
  let pauseRepo: PauseRepository;

  const sql = <T = Record<string, unknown>>(text: string, params: unknown[] = []) =>
    dataSource.query<T[]>(text, params);
  const makeDue = (name: string, agoMs = 1_000) =>
    sql(
      `UPDATE integration SET next_fire_at = date_trunc('second', now()) - make_interval(secs => $2::double precision / 1000) WHERE integration_name = $1`,
      [name, agoMs],
    );

  beforeAll(async () => {
    db = await createTestDatabase('repo');
    dataSource = createDataSource({ url: db.url, poolSize: 8, connectTimeoutMs: 5_000 });
    await dataSource.initialize();
    expect(await runMigrationsLocked(dataSource)).toStrictEqual([
      'CreateIntegrationAndRunTables1795948200000',
      'RecordAttemptsAndRegressions1795948500000',
      'LetRunFinishesUpdateIntegrationsInPlace1795958400000',
      'EventOutbox1795970000000',
      'AuditAndPauseReason1796100000000',
      'RecordTheAssumedUpstreamZone1796200000000',
      'KeepCustomDatabaseValuesInUpstreamOrder1796300000000',
    ]);
    integrationsRepo = new IntegrationsRepository(dataSource);
    runsRepo = new RunsRepository(dataSource);
    claimsRepo = new ClaimsRepository(dataSource);
    pauseRepo = new PauseRepository(dataSource, new AuditRepository(dataSource));
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  beforeEach(async () => {
    await sql('TRUNCATE run, integration RESTART IDENTITY CASCADE');
  });

  it('migrations are a no-op the second time', async () => {
    expect(await runMigrationsLocked(dataSource)).toStrictEqual([]);
  });

  describe('syncIntegrations', () => {
    it('inserts pairs with their first fire time, keeps it on an unchanged re-sync, and disables pairs that left', async () => {
      const fixed: NextFireTime = () => new Date('2030-01-01T00:00:00Z');
      await integrationsRepo.syncIntegrations([config(1, 'Orders'), config(2, 'Invoices')], fixed);
      const later: NextFireTime = () => new Date('2031-01-01T00:00:00Z');
      await integrationsRepo.syncIntegrations([config(1, 'Orders')], later);
      const rows = await sql<{ integration_name: string; enabled: boolean; next_fire_at: Date }>(
        'SELECT integration_name, enabled, next_fire_at FROM integration ORDER BY id',
      );
      expect(rows.map((r) => [r.integration_name, r.enabled, r.next_fire_at.toISOString()])).toStrictEqual([
        ['Orders', true, '2030-01-01T00:00:00.000Z'],
        ['Invoices', false, '2030-01-01T00:00:00.000Z'],
      ]);
      // Returning to the config re-enables it and starts its schedule afresh (no catch-up for the disabled time).
      await integrationsRepo.syncIntegrations([config(1, 'Orders'), config(2, 'Invoices')], later);
      const back = await integrationsRepo.findIntegration(2, 'Invoices');
      expect([back?.enabled, back?.nextFireAt?.toISOString()]).toStrictEqual([true, '2031-01-01T00:00:00.000Z']);
    });

    it('recomputes the next fire time when the cron changes', async () => {
      await integrationsRepo.syncIntegrations([config(1, 'Orders')], () => new Date('2030-01-01T00:00:00Z'));
      await integrationsRepo.syncIntegrations(
        [config(1, 'Orders', { cron: '0 0 * * * *' })],
        () => new Date('2030-02-02T00:00:00Z'),
      );
      const row = await integrationsRepo.findIntegration(1, 'Orders');
      expect([row?.cron, row?.nextFireAt?.toISOString()]).toStrictEqual(['0 0 * * * *', '2030-02-02T00:00:00.000Z']);
    });
  });

  describe('claimDue', () => {
    it('starts one run for a due tick, takes the lease and advances the fire time', async () => {
      await integrationsRepo.syncIntegrations([config(1, 'Orders', { cron: '* * * * * *' })], nextFireTime);
      await makeDue('Orders', 0);
      const [{ due }] = await sql<{ due: Date }>('SELECT next_fire_at AS due FROM integration');
      const claim = await claimsRepo.claimDue(claimOptions('replica-a'));
      expect(claim.started).toHaveLength(1);
      expect(claim.started[0]).toMatchObject({
        trigger: 'schedule',
        watermarkBefore: null,
        integration: { sourceSystemId: 1, integrationName: 'Orders' },
      });
      expect(claim.started[0].scheduledFor?.toISOString()).toBe(due.toISOString());
      const [row] = await sql<{ lease_owner: string; lease_run_id: string; next_fire_at: Date; last_run_id: string }>(
        'SELECT lease_owner, lease_run_id::text, next_fire_at, last_run_id::text FROM integration',
      );
      expect(row.lease_owner).toBe('replica-a');
      expect(row.lease_run_id).toBe(claim.started[0].runId);
      expect(row.last_run_id).toBe(claim.started[0].runId);
      expect(row.next_fire_at.getTime()).toBe(due.getTime() + 1_000);
      const [run] = await sql<{ outcome: string; trigger: string; replica_id: string }>(
        'SELECT outcome, trigger, replica_id FROM run',
      );
      expect(run).toStrictEqual({ outcome: 'running', trigger: 'schedule', replica_id: 'replica-a' });
    });

    it('gives each due integration to exactly one of several concurrent claimers', async () => {
      const names = Array.from({ length: 40 }, (_, i) => `Integration ${i}`);
      await integrationsRepo.syncIntegrations(
        names.map((n) => config(1, n)),
        nextFireTime,
      );
      await sql(`UPDATE integration SET next_fire_at = date_trunc('second', now()) - interval '1 second'`);
      const others = await Promise.all(
        [0, 1].map(async () => {
          const ds = createDataSource({ url: db.url, poolSize: 4, connectTimeoutMs: 5_000 });
          await ds.initialize();
          return ds;
        }),
      );
      try {
        const repos = [claimsRepo, ...others.map((ds) => new ClaimsRepository(ds))];
        const claims = await Promise.all(repos.map((r, i) => r.claimDue(claimOptions(`replica-${i}`, { limit: 15 }))));
        const claimed = claims.flatMap((c) => c.started.map((s) => s.integration.integrationName));
        expect(claimed).toHaveLength(new Set(claimed).size);
        // 3 × 15 slots for 40 integrations: all 40 claimed, each once.
        expect(new Set(claimed)).toStrictEqual(new Set(names));
        const [{ runs, ticks }] = await sql<{ runs: string; ticks: string }>(
          'SELECT count(*)::text AS runs, count(DISTINCT (integration_id, scheduled_for))::text AS ticks FROM run',
        );
        expect([runs, ticks]).toStrictEqual(['40', '40']);
      } finally {
        await Promise.all(others.map((ds) => ds.destroy()));
      }
    });

    it('skips a tick while the previous run holds the lease, without a second run', async () => {
      await integrationsRepo.syncIntegrations([config(1, 'Orders', { cron: '* * * * * *' })], nextFireTime);
      await makeDue('Orders');
      const first = await claimsRepo.claimDue(claimOptions('replica-a'));
      await makeDue('Orders');
      const second = await claimsRepo.claimDue(claimOptions('replica-b'));
      expect(second.started).toStrictEqual([]);
      expect(second.skippedOverlap.map((s) => s.integration.integrationName)).toStrictEqual(['Orders']);
      const [lease] = await sql<{ lease_run_id: string }>('SELECT lease_run_id::text FROM integration');
      expect(lease.lease_run_id).toBe(first.started[0].runId);
      expect((await sql('SELECT id FROM run')).length).toBe(1);
    });

    it('makes one catch-up run for ticks missed beyond the threshold under fire_once_now', async () => {
      await integrationsRepo.syncIntegrations([config(1, 'Orders', { cron: '* * * * * *' })], nextFireTime);
      await makeDue('Orders', 10 * 60_000);
      const claim = await claimsRepo.claimDue(claimOptions('replica-a'));
      expect(claim.started).toHaveLength(1);
      const again = await claimsRepo.claimDue(claimOptions('replica-a'));
      expect(again.started).toStrictEqual([]);
      const [{ next, now }] = await sql<{ next: Date; now: Date }>(
        'SELECT next_fire_at AS next, now() AS now FROM integration',
      );
      expect(next.getTime()).toBeGreaterThan(now.getTime() - 1_000);
    });

    it('folds ticks that passed while late (within the threshold) into one run instead of replaying them', async () => {
      await integrationsRepo.syncIntegrations([config(1, 'Orders', { cron: '* * * * * *' })], nextFireTime);
      await makeDue('Orders', 10_000);
      const claim = await claimsRepo.claimDue(claimOptions('replica-a'));
      expect(claim.started).toHaveLength(1);
      await sql(`UPDATE integration SET lease_owner = NULL, lease_run_id = NULL, lease_expires_at = NULL`);
      const again = await claimsRepo.claimDue(claimOptions('replica-a'));
      expect(again.started).toStrictEqual([]);
      expect((await sql('SELECT id FROM run')).length).toBe(1);
    });

    it('drops missed ticks under the skip policy', async () => {
      await integrationsRepo.syncIntegrations(
        [config(1, 'Orders', { cron: '* * * * * *', misfirePolicy: 'skip' })],
        nextFireTime,
      );
      await makeDue('Orders', 10 * 60_000);
      const claim = await claimsRepo.claimDue(claimOptions('replica-a'));
      expect(claim.started).toStrictEqual([]);
      expect(claim.skippedMisfire.map((s) => s.integration.integrationName)).toStrictEqual(['Orders']);
      expect((await sql('SELECT id FROM run')).length).toBe(0);
    });

    it('ignores paused and disabled integrations', async () => {
      await integrationsRepo.syncIntegrations([config(1, 'Paused'), config(1, 'Gone')], nextFireTime);
      await integrationsRepo.syncIntegrations([config(1, 'Paused')], nextFireTime);
      const paused = (await integrationsRepo.findIntegration(1, 'Paused'))!;
      await pauseRepo.pause({ integrationId: paused.id }, { actor: 'ops', reason: 'maintenance', until: null });
      await sql(`UPDATE integration SET next_fire_at = now() - interval '1 second'`);
      const claim = await claimsRepo.claimDue(claimOptions('replica-a'));
      expect(claim).toStrictEqual({ started: [], skippedOverlap: [], skippedMisfire: [], abandoned: [] });
    });

    /** Connections of this database's pool left inside a transaction (none may be, between calls). */
    const idleInTransaction = async () =>
      (
        await sql<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'`,
        )
      )[0].n;

    it('ends its transaction when nothing is due, and when its write fails (rolled back: no run, no lease, still due)', async () => {
      // A yearly schedule, so that nothing falls due on its own between the sync and the first claim; makeDue does it.
      await integrationsRepo.syncIntegrations([config(1, 'Orders', { cron: '0 0 0 1 1 *' })], nextFireTime);
      expect(await claimsRepo.claimDue(claimOptions('replica-a'))).toStrictEqual({
        started: [],
        skippedOverlap: [],
        skippedMisfire: [],
        abandoned: [],
      });
      expect(await idleInTransaction()).toBe(0);

      await makeDue('Orders');
      await sql(
        `CREATE FUNCTION refuse_run() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$`,
      );
      await sql(`CREATE TRIGGER refuse_run BEFORE INSERT ON run FOR EACH ROW EXECUTE FUNCTION refuse_run()`);
      try {
        await expect(claimsRepo.claimDue(claimOptions('replica-a'))).rejects.toThrow('disk full');
        expect(await idleInTransaction()).toBe(0);
        const [row] = await sql(`SELECT lease_owner, next_fire_at <= now() AS due FROM integration`);
        expect(row).toStrictEqual({ lease_owner: null, due: true });
      } finally {
        await sql('DROP TRIGGER refuse_run ON run');
        await sql('DROP FUNCTION refuse_run()');
      }
      expect(
        (await claimsRepo.claimDue(claimOptions('replica-a'))).started.map((s) => s.integration.integrationName),
      ).toStrictEqual(['Orders']);
    });

    it('fails with a transient error, without crashing the process, when its connection is cut mid-claim', async () => {
      await integrationsRepo.syncIntegrations([config(1, 'Orders', { cron: '* * * * * *' })], nextFireTime);
      await makeDue('Orders');
      // Holding the table makes the claim's locking read wait, so that its backend can be found and terminated.
      const holder = new Client({ connectionString: db.url });
      await holder.connect();
      try {
        await holder.query('BEGIN; LOCK TABLE integration IN ACCESS EXCLUSIVE MODE');
        const claim = claimsRepo.claimDue(claimOptions('replica-a')).catch((error: unknown) => error);
        let terminated = 0;
        for (let i = 0; i < 200 && terminated === 0; i++) {
          await new Promise((resolve) => setTimeout(resolve, 10));
          const { rows } = await holder.query<{ n: number }>(
            `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '%db_now%FOR UPDATE SKIP LOCKED%' AND wait_event_type = 'Lock'`,
          );
          terminated = rows[0].n;
        }
        expect(terminated).toBe(1);
        const error = await claim;
        expect(error).toBeInstanceOf(Error);
        expect(isTransientDatabaseError(error)).toBe(true);
        await holder.query('COMMIT');
      } finally {
        await holder.end();
      }
      // An 'error' event the claim left unhandled would fail this test as an uncaught exception; give it a turn.
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(
        (await claimsRepo.claimDue(claimOptions('replica-a'))).started.map((s) => s.integration.integrationName),
      ).toStrictEqual(['Orders']);
    });
  });

  describe('finishRun', () => {
    async function startOne(): Promise<StartedRun> {
      await integrationsRepo.syncIntegrations([config(12, 'Invoices')], nextFireTime);
      const integration = (await integrationsRepo.findIntegration(12, 'Invoices'))!;
      return claimsRepo.startManualRun(integration, 'replica-a', 30_000);
    }

    it('stores the watermark exactly: text, floored µs instant, bigint id; and releases the lease', async () => {
      const started = await startOne();
      const { applied, finished } = await runsRepo.finishRun(started, {
        outcome: 'succeeded',
        status: INT64_STATUS,
        httpStatus: 200,
        ...NO_ATTEMPTS,
        watermarkRegressed: false,
      });
      expect(applied).toBe(true);
      expect(finished).toMatchObject({
        id: started.runId,
        outcome: 'succeeded',
        httpStatus: 200,
        watermarkBefore: null,
        watermarkAfter: {
          maxSyncDateTime: '2026-01-31T17:59:59.9999999-06:00',
          maxSyncDateTimeUtc: '2026-01-31T23:59:59.9999999Z',
          maxSyncDateMaxPkId: '9007199254740993',
        },
      });
      const [row] = await sql(
        `SELECT max_sync_date_time, max_sync_date_time_utc, to_char(max_sync_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS at,
                max_sync_pk_id::text AS pk, lease_owner, consecutive_failures, last_succeeded_at IS NOT NULL AS succeeded
         FROM integration`,
      );
      expect(row).toStrictEqual({
        max_sync_date_time: '2026-01-31T17:59:59.9999999-06:00',
        max_sync_date_time_utc: '2026-01-31T23:59:59.9999999Z',
        at: '2026-01-31T23:59:59.999999', // floored: Postgres alone would round .9999999 up to the next second
        pk: '9007199254740993',
        lease_owner: null,
        consecutive_failures: 0,
        succeeded: true,
      });
      const state = (await integrationsRepo.findIntegration(12, 'Invoices'))!;
      expect(state.lastStatus).toStrictEqual(INT64_STATUS);
      expect(state.lastRun?.id).toBe(started.runId);
    });

    it('a failed run never touches the watermark and counts consecutive failures', async () => {
      const first = await startOne();
      await runsRepo.finishRun(first, {
        outcome: 'succeeded',
        status: INT64_STATUS,
        httpStatus: 200,
        ...NO_ATTEMPTS,
        watermarkRegressed: false,
      });
      const integration = (await integrationsRepo.findIntegration(12, 'Invoices'))!;
      for (let i = 0; i < 2; i++) {
        const run = await claimsRepo.startManualRun(integration, 'replica-a', 30_000);
        expect(run.watermarkBefore).toStrictEqual({
          maxSyncDateTime: '2026-01-31T17:59:59.9999999-06:00',
          maxSyncDateTimeUtc: '2026-01-31T23:59:59.9999999Z',
          maxSyncDateMaxPkId: '9007199254740993',
        });
        const { finished } = await runsRepo.finishRun(run, {
          outcome: 'failed',
          errorCode: 'http_status',
          error: 'upstream answered 500',
          httpStatus: 500,
          ...NO_ATTEMPTS,
        });
        expect(finished).toMatchObject({
          outcome: 'failed',
          errorCode: 'http_status',
          error: 'upstream answered 500',
          httpStatus: 500,
          watermarkAfter: null,
        });
      }
      const state = (await integrationsRepo.findIntegration(12, 'Invoices'))!;
      expect(state.lastStatus).toStrictEqual(INT64_STATUS);
      expect(state.consecutiveFailures).toBe(2);
      const [row] = await sql(`SELECT max_sync_pk_id::text AS pk, max_sync_date_time FROM integration`);
      expect(row).toStrictEqual({ pk: '9007199254740993', max_sync_date_time: '2026-01-31T17:59:59.9999999-06:00' });
    });

    it('writes nothing when the state update fails: the run stays running and the watermark as it was', async () => {
      const started = await startOne();
      await sql(
        `CREATE FUNCTION fail_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$`,
      );
      await sql(
        `CREATE TRIGGER fail_watermark BEFORE UPDATE OF max_sync_pk_id ON integration FOR EACH ROW EXECUTE FUNCTION fail_update()`,
      );
      try {
        await expect(
          runsRepo.finishRun(started, {
            outcome: 'succeeded',
            status: INT64_STATUS,
            httpStatus: 200,
            ...NO_ATTEMPTS,
            watermarkRegressed: false,
          }),
        ).rejects.toThrow('disk full');
      } finally {
        await sql('DROP TRIGGER fail_watermark ON integration');
        await sql('DROP FUNCTION fail_update()');
      }
      const [run] = await sql(`SELECT outcome, finished_at, watermark_after FROM run`);
      expect(run).toStrictEqual({ outcome: 'running', finished_at: null, watermark_after: null });
      const [row] = await sql(`SELECT max_sync_pk_id, last_status, lease_run_id::text AS lease FROM integration`);
      expect(row).toStrictEqual({ max_sync_pk_id: null, last_status: null, lease: started.runId });
    });

    it('keeps every attempt and the retry and regression flags of a run', async () => {
      const started = await startOne();
      const attempts = [
        {
          attempt: 1,
          startedAt: '2026-11-29T10:00:00.000Z',
          durationMs: 5000,
          httpStatus: null,
          errorCode: 'timeout',
          error: 'no answer within 5000 ms',
        },
        {
          attempt: 2,
          startedAt: '2026-11-29T10:00:05.500Z',
          durationMs: 12,
          httpStatus: 200,
          errorCode: null,
          error: null,
        },
      ];
      const { finished } = await runsRepo.finishRun(started, {
        outcome: 'succeeded',
        status: INT64_STATUS,
        httpStatus: 200,
        attempts,
        outcomeUnknownRetried: true,
        watermarkRegressed: true,
      });
      expect([finished?.attempts, finished?.outcomeUnknownRetried, finished?.watermarkRegressed]).toStrictEqual([
        attempts,
        true,
        true,
      ]);
      expect((await runsRepo.findRun(started.runId))?.attempts).toStrictEqual(attempts);
    });

    it('refuses to finish a run that was already marked abandoned', async () => {
      const started = await startOne();
      await sql(`UPDATE integration SET lease_expires_at = now() - interval '1 second'`);
      const reaped = await claimsRepo.reapExpiredLeases();
      expect(reaped.map((r) => [r.runId, r.replicaId])).toStrictEqual([[started.runId, 'replica-a']]);
      const result = await runsRepo.finishRun(started, {
        outcome: 'succeeded',
        status: INT64_STATUS,
        httpStatus: 200,
        ...NO_ATTEMPTS,
        watermarkRegressed: false,
      });
      expect(result).toStrictEqual({ applied: false, finished: null });
      const [run] = await sql(`SELECT outcome, error_code FROM run`);
      expect(run).toStrictEqual({ outcome: 'abandoned', error_code: 'lease_expired' });
      expect((await integrationsRepo.findIntegration(12, 'Invoices'))!.lastStatus).toBeNull();
    });
  });

  describe('finishRuns (group commit)', () => {
    const succeeded = {
      outcome: 'succeeded' as const,
      status: INT64_STATUS,
      httpStatus: 200,
      ...NO_ATTEMPTS,
      watermarkRegressed: false,
    };
    const failed = {
      outcome: 'failed' as const,
      errorCode: 'http_status',
      error: 'upstream answered 500',
      httpStatus: 500,
      ...NO_ATTEMPTS,
    };

    async function startMany(names: string[]): Promise<StartedRun[]> {
      await integrationsRepo.syncIntegrations(
        names.map((n) => config(12, n)),
        nextFireTime,
      );
      const started: StartedRun[] = [];
      for (const name of names)
        started.push(
          await claimsRepo.startManualRun((await integrationsRepo.findIntegration(12, name))!, 'replica-a', 30_000),
        );
      return started;
    }

    it('finishes several runs in one transaction exactly as finishRun does one by one', async () => {
      const [a, b, c] = await startMany(['A', 'B', 'C']);
      const results = await runsRepo.finishRuns([
        { started: a, completion: succeeded },
        { started: b, completion: failed },
        { started: c, completion: { ...succeeded, watermarkRegressed: true, outcomeUnknownRetried: true } },
      ]);
      expect(results.map((r) => [r.applied, r.finished?.id, r.finished?.outcome])).toStrictEqual([
        [true, a.runId, 'succeeded'],
        [true, b.runId, 'failed'],
        [true, c.runId, 'succeeded'],
      ]);
      expect(results[0].finished?.watermarkAfter).toStrictEqual({
        maxSyncDateTime: '2026-01-31T17:59:59.9999999-06:00',
        maxSyncDateTimeUtc: '2026-01-31T23:59:59.9999999Z',
        maxSyncDateMaxPkId: '9007199254740993',
      });
      expect([results[2].finished?.watermarkRegressed, results[2].finished?.outcomeUnknownRetried]).toStrictEqual([
        true,
        true,
      ]);
      const rows = await sql(
        `SELECT integration_name AS name, max_sync_pk_id::text AS pk, to_char(max_sync_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS at,
                consecutive_failures AS failures, lease_owner, last_run_id::text AS last_run, last_succeeded_at IS NOT NULL AS ok
         FROM integration ORDER BY integration_name`,
      );
      expect(rows).toStrictEqual([
        {
          name: 'A',
          pk: '9007199254740993',
          at: '2026-01-31T23:59:59.999999',
          failures: 0,
          lease_owner: null,
          last_run: a.runId,
          ok: true,
        },
        { name: 'B', pk: null, at: null, failures: 1, lease_owner: null, last_run: b.runId, ok: false },
        {
          name: 'C',
          pk: '9007199254740993',
          at: '2026-01-31T23:59:59.999999',
          failures: 0,
          lease_owner: null,
          last_run: c.runId,
          ok: true,
        },
      ]);
      expect((await integrationsRepo.findIntegration(12, 'A'))!.lastStatus).toStrictEqual(INT64_STATUS);
    });

    it('answers each run as it then reads from the database, without reading the written columns back', async () => {
      await integrationsRepo.syncIntegrations(
        [config(12, 'Sched', { cron: '* * * * * *' }), config(12, 'M')],
        nextFireTime,
      );
      await makeDue('Sched');
      const [scheduled] = (await claimsRepo.claimDue(claimOptions('replica-s'))).started;
      const manual = await claimsRepo.startManualRun(
        (await integrationsRepo.findIntegration(12, 'M'))!,
        'replica-m',
        30_000,
      );
      const attempts = [
        {
          attempt: 1,
          startedAt: '2026-11-29T10:00:00.125Z',
          durationMs: 12.3,
          httpStatus: 503,
          errorCode: 'http_status',
          error: 'upstream answered 503',
          retryAfterMs: 250,
        },
        {
          attempt: 2,
          startedAt: '2026-11-29T10:00:00.400Z',
          durationMs: 7.5,
          httpStatus: 200,
          errorCode: null,
          error: null,
        },
      ];
      const results = await runsRepo.finishRuns([
        {
          started: scheduled,
          completion: { ...succeeded, attempts, outcomeUnknownRetried: true, watermarkRegressed: true },
        },
        { started: manual, completion: { ...failed, attempts: [attempts[0]] } },
      ]);
      expect(results.map((r) => r.applied)).toStrictEqual([true, true]);
      expect(results[0].finished).toStrictEqual(await runsRepo.findRun(scheduled.runId));
      expect(results[1].finished).toStrictEqual(await runsRepo.findRun(manual.runId));
      expect([
        results[0].finished!.trigger,
        results[0].finished!.replicaId,
        results[1].finished!.trigger,
        results[1].finished!.errorCode,
      ]).toStrictEqual(['schedule', 'replica-s', 'manual', 'http_status']);
    });

    it('writes texts that hold its literal quoting (dollar tags, quotes, backslashes) exactly', async () => {
      const [a, b] = await startMany(['A', 'B']);
      const tricky = `it's $tm$ not '' the end \\ $tm1$ "quoted" \u0001 $$ ; COMMIT; --`;
      const results = await runsRepo.finishRuns([
        { started: a, completion: { ...failed, error: tricky, errorCode: '$tm$' } },
        { started: b, completion: { ...failed, error: 'plain' } },
      ]);
      expect(results.map((r) => r.applied)).toStrictEqual([true, true]);
      const [run] = await sql<{ error: string; error_code: string }>(
        `SELECT error, error_code FROM run WHERE id = $1`,
        [a.runId],
      );
      expect(run).toStrictEqual({ error: tricky, error_code: '$tm$' });
    });

    it('stores a lone surrogate in an error text as U+FFFD, as a UTF-8 text parameter does', async () => {
      const [a] = await startMany(['A']);
      const interrupted = {
        ...failed,
        outcome: 'interrupted' as const,
        error: 'half \ud800 a pair',
        errorCode: 'x\udc00',
      };
      const [result] = await runsRepo.finishRuns([{ started: a, completion: interrupted }]);
      expect(result.applied).toBe(true);
      const [run] = await sql<{ error: string; error_code: string }>(
        `SELECT error, error_code FROM run WHERE id = $1`,
        [a.runId],
      );
      expect(run).toStrictEqual({ error: 'half \ufffd a pair', error_code: 'x\ufffd' });
    });

    it('leaves a run already marked abandoned alone and still finishes the others', async () => {
      const [a, b] = await startMany(['A', 'B']);
      await sql(`UPDATE integration SET lease_expires_at = now() - interval '1 second' WHERE integration_name = 'A'`);
      expect((await claimsRepo.reapExpiredLeases()).map((r) => r.runId)).toStrictEqual([a.runId]);
      const results = await runsRepo.finishRuns([
        { started: a, completion: succeeded },
        { started: b, completion: succeeded },
      ]);
      expect(results.map((r) => r.applied)).toStrictEqual([false, true]);
      expect((await integrationsRepo.findIntegration(12, 'A'))!.lastStatus).toBeNull();
      expect((await integrationsRepo.findIntegration(12, 'B'))!.lastStatus).toStrictEqual(INT64_STATUS);
    });

    it('refuses two runs of one integration in a batch', async () => {
      const [a] = await startMany(['A']);
      await expect(
        runsRepo.finishRuns([
          { started: a, completion: succeeded },
          { started: a, completion: failed },
        ]),
      ).rejects.toThrow(/one run per integration/);
    });

    it('a batch that fails writes nothing; the batcher then writes each run alone, so one bad run loses no other', async () => {
      const [a, b, c] = await startMany(['A', 'B', 'C']);
      await sql(
        `CREATE FUNCTION fail_b() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'bad row B'; END $$`,
      );
      await sql(
        `CREATE TRIGGER fail_b BEFORE UPDATE OF max_sync_pk_id ON integration FOR EACH ROW WHEN (NEW.integration_name = 'B') EXECUTE FUNCTION fail_b()`,
      );
      try {
        await expect(
          runsRepo.finishRuns([a, b, c].map((started) => ({ started, completion: succeeded }))),
        ).rejects.toThrow('bad row B');
        const runs = await sql<{ outcome: string }>(`SELECT outcome FROM run ORDER BY id`);
        expect(runs.map((r) => r.outcome)).toStrictEqual(['running', 'running', 'running']);

        const batcher = new FinishBatcher(runsRepo, isTransientDatabaseError);
        const settled = await Promise.allSettled([a, b, c].map((started) => batcher.finish(started, succeeded)));
        expect(settled.map((s) => s.status)).toStrictEqual(['fulfilled', 'rejected', 'fulfilled']);
        expect(String((settled[1] as PromiseRejectedResult).reason)).toMatch('bad row B');
      } finally {
        await sql('DROP TRIGGER fail_b ON integration');
        await sql('DROP FUNCTION fail_b()');
      }
      const rows = await sql(
        `SELECT i.integration_name AS name, r.outcome FROM run r JOIN integration i ON i.id = r.integration_id ORDER BY name`,
      );
      expect(rows).toStrictEqual([
        { name: 'A', outcome: 'succeeded' },
        { name: 'B', outcome: 'running' },
        { name: 'C', outcome: 'succeeded' },
      ]);
    });

    it('the batcher finishes runs that end together in one transaction', async () => {
      const started = await startMany(['A', 'B', 'C', 'D']);
      const calls: number[] = [];
      const counting = {
        finishRun: (s: StartedRun, c: Parameters<RunsRepository['finishRun']>[1]) => {
          calls.push(1);
          return runsRepo.finishRun(s, c);
        },
        finishRuns: (items: Parameters<RunsRepository['finishRuns']>[0]) => {
          calls.push(items.length);
          return runsRepo.finishRuns(items);
        },
      };
      const batcher = new FinishBatcher(counting, isTransientDatabaseError);
      const results = await Promise.all(started.map((s) => batcher.finish(s, succeeded)));
      expect(results.every((r) => r.applied)).toBe(true);
      expect(calls).toStrictEqual([4]);
    });

    it('the batcher lets a run end wait up to gatherMs for others to join its batch, and starts at once when batchTarget have queued', async () => {
      const started = await startMany(['A', 'B', 'C', 'D', 'E']);
      const writes: Array<{ size: number; afterMs: number }> = [];
      let t0 = performance.now();
      const counting = {
        finishRun: () => Promise.reject(new Error('not expected: no batch fails here')),
        finishRuns: (items: Parameters<RunsRepository['finishRuns']>[0]) => {
          writes.push({ size: items.length, afterMs: performance.now() - t0 });
          return runsRepo.finishRuns(items);
        },
      };
      const batcher = new FinishBatcher(counting, isTransientDatabaseError, 256, 2, 300, 3);
      const first = batcher.finish(started[0], succeeded);
      await new Promise((resolve) => setTimeout(resolve, 50));
      await Promise.all([first, batcher.finish(started[1], succeeded)]);
      t0 = performance.now();
      await Promise.all(started.slice(2).map((s) => batcher.finish(s, succeeded)));
      expect(writes.map((w) => w.size)).toStrictEqual([2, 3]);
      // The first two waited out the gathering time; the next three were a full batch, written at once.
      expect(writes[0].afterMs).toBeGreaterThanOrEqual(295);
      expect(writes[1].afterMs).toBeLessThan(150);
    });

    it('the batcher writes up to maxConcurrent batches at once, each an integration at most once, and commits every run', async () => {
      const names = Array.from({ length: 12 }, (_, i) => `R${String(i).padStart(2, '0')}`);
      const started = await startMany(names);
      let writing = 0;
      let mostAtOnce = 0;
      const sizes: number[] = [];
      const counting = {
        finishRun: (s: StartedRun, c: Parameters<RunsRepository['finishRun']>[1]) =>
          counting.finishRuns([{ started: s, completion: c }]).then((r) => r[0]),
        finishRuns: async (items: Parameters<RunsRepository['finishRuns']>[0]) => {
          writing += 1;
          mostAtOnce = Math.max(mostAtOnce, writing);
          sizes.push(items.length);
          try {
            // Holds the transaction open a little, so that later runs find the writers busy.
            await new Promise((resolve) => setTimeout(resolve, 30));
            return await runsRepo.finishRuns(items);
          } finally {
            writing -= 1;
          }
        },
      };
      const batcher = new FinishBatcher(counting, isTransientDatabaseError, 4, 2);
      const results: Array<Promise<unknown>> = [];
      // Three runs end in each of four turns of the event loop.
      for (let turn = 0; turn < 4; turn++) {
        for (const s of started.slice(turn * 3, turn * 3 + 3)) results.push(batcher.finish(s, succeeded));
        await new Promise((resolve) => setImmediate(resolve));
        await new Promise((resolve) => setImmediate(resolve));
      }
      const settled = (await Promise.all(results)) as Array<{ applied: boolean }>;
      expect(settled.map((r) => r.applied)).toStrictEqual(Array(12).fill(true));
      expect(mostAtOnce).toBe(2);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(12);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(4);
      const rows = await sql<{ n: number }>(`SELECT count(*)::int AS n FROM run WHERE outcome = 'succeeded'`);
      expect(rows).toStrictEqual([{ n: 12 }]);
    });

    it('the batcher never writes two ends of one integration in concurrent batches: the later waits for the earlier', async () => {
      const [a] = await startMany(['A']);
      const order: string[] = [];
      const counting = {
        finishRun: () => Promise.reject(new Error('not expected: no batch fails here')),
        finishRuns: async (items: Parameters<RunsRepository['finishRuns']>[0]) => {
          const outcomes = items.map((item) => item.completion.outcome).join('+');
          order.push(`start ${outcomes}`);
          try {
            // Holds the write open a little, so that a second batch started alongside it would show as overlapping.
            await new Promise((resolve) => setTimeout(resolve, 20));
            return await runsRepo.finishRuns(items);
          } finally {
            order.push(`end ${outcomes}`);
          }
        },
      };
      const batcher = new FinishBatcher(counting, isTransientDatabaseError, 4, 3);
      const results = await Promise.all([batcher.finish(a, succeeded), batcher.finish(a, failed)]);
      expect(order).toStrictEqual(['start succeeded', 'end succeeded', 'start failed', 'end failed']);
      // The first end committed; the second found the run no longer running and changed nothing.
      expect(results.map((r) => [r.applied, r.finished?.id ?? null, r.finished?.outcome ?? null])).toStrictEqual([
        [true, a.runId, 'succeeded'],
        [false, null, null],
      ]);
      const runs = await sql(`SELECT id::text AS id, outcome, error_code FROM run`);
      expect(runs).toStrictEqual([{ id: a.runId, outcome: 'succeeded', error_code: null }]);
      const integrations = await sql(
        `SELECT max_sync_pk_id::text AS pk, consecutive_failures AS failures, lease_owner, last_run_id::text AS last_run,
                last_succeeded_at IS NOT NULL AS ok
         FROM integration`,
      );
      expect(integrations).toStrictEqual([
        { pk: '9007199254740993', failures: 0, lease_owner: null, last_run: a.runId, ok: true },
      ]);
    });
  });

  describe('state notifications', () => {
    it('every state change notifies its integration ids on commit, and nothing on rollback', async () => {
      const listener = new Client({ connectionString: db.url });
      await listener.connect();
      const payloads: string[] = [];
      listener.on('notification', (n) => payloads.push(n.payload ?? ''));
      await listener.query(`LISTEN ${STATE_CHANNEL}`);
      const next = async (): Promise<string> => {
        for (let i = 0; i < 100 && payloads.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
        await listener.query('SELECT 1');
        return payloads.splice(0).join('|');
      };
      try {
        await integrationsRepo.syncIntegrations([config(1, 'Orders', { cron: '* * * * * *' })], nextFireTime);
        expect(await next()).toBe('*');
        const integration = (await integrationsRepo.findIntegration(1, 'Orders'))!;
        await makeDue('Orders');
        const claim = await claimsRepo.claimDue(claimOptions('replica-a'));
        expect(await next()).toBe(integration.id);
        await runsRepo.finishRuns([
          {
            started: claim.started[0],
            completion: { outcome: 'failed', errorCode: 'x', error: 'x', httpStatus: null, ...NO_ATTEMPTS },
          },
        ]);
        expect(await next()).toBe(integration.id);
        const manual = await claimsRepo.startManualRun(integration, 'replica-a', 30_000);
        expect(await next()).toBe(integration.id);
        await runsRepo.finishRun(manual, {
          outcome: 'failed',
          errorCode: 'x',
          error: 'x',
          httpStatus: null,
          ...NO_ATTEMPTS,
        });
        expect(await next()).toBe(integration.id);
        await pauseRepo.pause({ integrationId: integration.id }, { actor: 'ops', reason: 'maintenance', until: null });
        expect(await next()).toBe(integration.id);
        // A failed finish sends nothing: NOTIFY is transactional.
        await sql(
          `CREATE FUNCTION fail_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$`,
        );
        await sql(`CREATE TRIGGER fail_all BEFORE UPDATE ON run FOR EACH ROW EXECUTE FUNCTION fail_update()`);
        const doomed = await claimsRepo.startManualRun(integration, 'replica-a', 30_000);
        expect(await next()).toBe(integration.id);
        await expect(
          runsRepo.finishRun(doomed, {
            outcome: 'failed',
            errorCode: 'x',
            error: 'x',
            httpStatus: null,
            ...NO_ATTEMPTS,
          }),
        ).rejects.toThrow('disk full');
        await sql('DROP TRIGGER fail_all ON run');
        await sql('DROP FUNCTION fail_update()');
        expect(await next()).toBe('');
      } finally {
        await listener.end();
      }
    });

    it('msUntilNextDue reports the earliest fire time of enabled, unpaused integrations', async () => {
      expect(await claimsRepo.msUntilNextDue()).toBeNull();
      await integrationsRepo.syncIntegrations([config(1, 'Orders'), config(1, 'Invoices')], nextFireTime);
      await sql(`UPDATE integration SET next_fire_at = now() + interval '5 seconds' WHERE integration_name = 'Orders'`);
      await sql(
        `UPDATE integration SET next_fire_at = now() + interval '2 seconds', paused = true WHERE integration_name = 'Invoices'`,
      );
      const ms = (await claimsRepo.msUntilNextDue())!;
      expect(ms).toBeGreaterThan(4_000);
      expect(ms).toBeLessThanOrEqual(5_000);
    });
  });

  describe('leases', () => {
    it('a manual run is refused while another run holds the lease', async () => {
      await integrationsRepo.syncIntegrations([config(1, 'Orders')], nextFireTime);
      const integration = (await integrationsRepo.findIntegration(1, 'Orders'))!;
      const first = await claimsRepo.startManualRun(integration, 'replica-a', 30_000);
      const refused = await claimsRepo.startManualRun(integration, 'replica-b', 30_000).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(RunInProgressError);
      expect((refused as RunInProgressError).runId).toBe(first.runId);
    });

    it('renewal extends only leases the replica still holds', async () => {
      await integrationsRepo.syncIntegrations([config(1, 'Orders'), config(1, 'Invoices')], nextFireTime);
      const a = await claimsRepo.startManualRun(
        (await integrationsRepo.findIntegration(1, 'Orders'))!,
        'replica-a',
        1_000,
      );
      const b = await claimsRepo.startManualRun(
        (await integrationsRepo.findIntegration(1, 'Invoices'))!,
        'replica-b',
        1_000,
      );
      const lost = await claimsRepo.renewLeases('replica-a', [a.runId, b.runId], 60_000);
      expect(lost).toStrictEqual([b.runId]);
      const rows = await sql<{ name: string; secs: number }>(
        `SELECT integration_name AS name, round(extract(epoch FROM lease_expires_at - now()))::int AS secs FROM integration ORDER BY integration_name`,
      );
      expect(rows).toStrictEqual([
        { name: 'Invoices', secs: 1 },
        { name: 'Orders', secs: 60 },
      ]);
    });

    it('an expired lease is reaped: the run is abandoned and the next tick runs', async () => {
      await integrationsRepo.syncIntegrations([config(1, 'Orders', { cron: '* * * * * *' })], nextFireTime);
      await makeDue('Orders');
      const dead = await claimsRepo.claimDue(claimOptions('replica-dead'));
      await sql(`UPDATE integration SET lease_expires_at = now() - interval '1 second'`);
      // Due again, at a fire time other than the dead run's tick.
      await sql(`UPDATE integration SET next_fire_at = (SELECT scheduled_for FROM run) + interval '1 millisecond'`);
      const next = await claimsRepo.claimDue(claimOptions('replica-b'));
      expect(next.abandoned.map((a) => [a.runId, a.replicaId])).toStrictEqual([
        [dead.started[0].runId, 'replica-dead'],
      ]);
      expect(next.started).toHaveLength(1);
      const runs = await sql(`SELECT replica_id, outcome FROM run ORDER BY id`);
      expect(runs).toStrictEqual([
        { replica_id: 'replica-dead', outcome: 'abandoned' },
        { replica_id: 'replica-b', outcome: 'running' },
      ]);
    });
  });

  describe('reads and retention', () => {
    it('pages integrations by (sourceSystemId, byte order of name)', async () => {
      const names = ['b', 'B', 'a', 'Ärger', 'z/y', 'a b'];
      await integrationsRepo.syncIntegrations([...names.map((n) => config(2, n)), config(1, 'zz')], nextFireTime);
      const seen: string[] = [];
      let after: { sourceSystemId: number; integrationName: string } | undefined;
      for (;;) {
        const page = await integrationsRepo.listIntegrations({ limit: 3, after });
        seen.push(...page.items.map((i) => `${i.sourceSystemId}:${i.integrationName}`));
        if (!page.hasMore) break;
        after = page.items.at(-1)!;
      }
      expect(seen).toStrictEqual(['1:zz', '2:B', '2:a', '2:a b', '2:b', '2:z/y', '2:Ärger']);
      const filtered = await integrationsRepo.listIntegrations({ limit: 10, sourceSystemId: 1 });
      expect(filtered.items.map((i) => i.integrationName)).toStrictEqual(['zz']);
    });

    it('pages runs newest first', async () => {
      await integrationsRepo.syncIntegrations([config(1, 'Orders')], nextFireTime);
      const integration = (await integrationsRepo.findIntegration(1, 'Orders'))!;
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const run = await claimsRepo.startManualRun(integration, 'r', 30_000);
        await runsRepo.finishRun(run, {
          outcome: 'failed',
          errorCode: 'x',
          error: 'x',
          httpStatus: null,
          ...NO_ATTEMPTS,
        });
        ids.push(run.runId);
      }
      const first = await runsRepo.listRuns(integration.id, { limit: 2 });
      expect([first.items.map((r) => r.id), first.hasMore]).toStrictEqual([[ids[4], ids[3]], true]);
      const last = await runsRepo.listRuns(integration.id, { limit: 10, beforeId: ids[1] });
      expect([last.items.map((r) => r.id), last.hasMore]).toStrictEqual([[ids[0]], false]);
    });

    it('prunes old finished runs in batches but keeps each integration last run', async () => {
      await integrationsRepo.syncIntegrations([config(1, 'Orders')], nextFireTime);
      const integration = (await integrationsRepo.findIntegration(1, 'Orders'))!;
      for (let i = 0; i < 5; i++) {
        const run = await claimsRepo.startManualRun(integration, 'r', 30_000);
        await runsRepo.finishRun(run, {
          outcome: 'failed',
          errorCode: 'x',
          error: 'x',
          httpStatus: null,
          ...NO_ATTEMPTS,
        });
      }
      await sql(`UPDATE run SET started_at = now() - interval '40 days'`);
      expect(await runsRepo.pruneRunHistory(30, 3)).toBe(3);
      expect(await runsRepo.pruneRunHistory(30, 3)).toBe(1);
      expect(await runsRepo.pruneRunHistory(30, 3)).toBe(0);
      const left = await sql<{ id: string }>(`SELECT id::text FROM run`);
      expect(left.map((r) => r.id)).toStrictEqual([(await integrationsRepo.findIntegration(1, 'Orders'))!.lastRun!.id]);
    });
  });
});

import { describe, expect, it } from 'vitest';
import type { DataSource } from 'typeorm';
import { Client } from 'pg';
import { createDataSource, runMigrationsLocked } from '../../src/persistence/data-source';
import { ClaimsRepository } from '../../src/persistence/claims.repository';
import type { IntegrationsRepository } from '../../src/persistence/integrations.repository';
import type { PauseRepository } from '../../src/persistence/pause.repository';
import { isTransientDatabaseError } from '../../src/runs/run.service';
import { RunInProgressError, type NextFireTime } from '../../src/persistence/types';
import { nextFireTime } from '../../src/scheduler/cron-schedule';
import type { TestDatabase } from '../support/database';
import { claimOptions, config, useStateRepository } from './state.repository.fixture';

// Syncing integrations from config, claiming due ticks (misfires, overlaps, concurrency) and leases.

describe('StateRepository on real Postgres', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let integrationsRepo: IntegrationsRepository;
  let claimsRepo: ClaimsRepository;
  let pauseRepo: PauseRepository;

  const { sql, makeDue } = useStateRepository(
    (fixture) => ({ db, dataSource, integrationsRepo, claimsRepo, pauseRepo } = fixture),
  );

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
});

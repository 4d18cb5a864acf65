import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SchedulerService } from '../../src/scheduler/scheduler.service';
import { IntegrationsRepository } from '../../src/persistence/integrations.repository';
import { RunService } from '../../src/runs/run.service';
import { ShutdownCoordinator } from '../../src/lifecycle/shutdown.coordinator';
import { UpstreamSimulator } from '../../src/demo/simulator';
import { eventually, integrationPath, startApp, type RunningApp } from '../support/app';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { startStack, type Stack } from '../support/stack';
import { Client } from 'pg';

/** Scheduled runs through the whole app, restarts, the XML request format, and pause/resume. */
describe('schedule e2e', () => {
  let db: TestDatabase;
  let simulator: UpstreamSimulator;
  let upstream: string;
  const key = { sourceSystemId: 41, integrationName: 'Rack Prices' };
  const env = () => ({
    DATABASE_URL: db.url,
    UPSTREAM_BASE_URL: upstream,
    UPSTREAM_FORMAT: 'xml',
    INTEGRATIONS: JSON.stringify([{ ...key, cron: '* * * * * *', timeZone: 'America/Chicago' }]),
  });

  beforeAll(async () => {
    db = await createTestDatabase('sched');
    // Keyset ids beyond 2^53 prove that the scheduled path keeps them exact too.
    simulator = new UpstreamSimulator({ pkStart: 9007199254740993n, timeZoneOffset: '-06:00' });
    upstream = await simulator.start();
  });

  afterAll(async () => {
    await simulator?.stop();
    await db?.drop();
  });

  const state = async (app: RunningApp) =>
    (await (await fetch(app.url + integrationPath(41, 'Rack Prices'))).json()) as Record<string, any>;

  it('scheduled ticks store a watermark that moves forward, over the XML request format', async () => {
    const app = await startApp(env());
    try {
      const first = await eventually(async () => {
        const s = await state(app);
        return s.maxSyncDateMaxPkId ? s : null;
      }, 5_000);
      expect(first.maxSyncDateMaxPkId).toBe('9007199254740993');
      expect(first.maxSyncDateTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}-06:00$/);
      expect(first.lastRun).toMatchObject({ trigger: 'schedule', outcome: 'succeeded' });
      expect(first.schedule).toMatchObject({ cron: '* * * * * *', timeZone: 'America/Chicago' });
      const later = await eventually(async () => {
        const s = await state(app);
        return BigInt(s.maxSyncDateMaxPkId) >= 9007199254740995n ? s : null;
      }, 5_000);
      expect(later.maxSyncDateTimeUtc > first.maxSyncDateTimeUtc).toBe(true);
      // The strict DataContract reader in the simulator got the name and id from our XML body.
      const calls = simulator.calls.filter((c) => c.integrationName === key.integrationName);
      expect(calls.length).toBeGreaterThanOrEqual(3);
      expect(calls.every((c) => c.format === 'xml' && c.sourceSystemId === 41)).toBe(true);
      expect(calls[0].headers['content-type']).toMatch(/^application\/xml/);
      expect(calls[0].headers.accept).toMatch(/^application\/xml/);
    } finally {
      await app.close();
    }
  });

  it('loses nothing across a stop and a start', async () => {
    const first = await startApp(env());
    let before: Record<string, any>;
    let runsBefore: Array<Record<string, any>>;
    try {
      await first.tidemark.app.get(SchedulerService).stop();
      await new Promise((resolve) => setTimeout(resolve, 300));
      before = await state(first);
      runsBefore = (
        (await (await fetch(`${first.url}${integrationPath(41, 'Rack Prices')}/runs?limit=200`)).json()) as any
      ).items;
    } finally {
      await first.close();
    }
    const second = await startApp({
      ...env(),
      INTEGRATIONS: JSON.stringify([{ ...key, cron: '0 0 0 1 1 *', timeZone: 'America/Chicago' }]),
    });
    try {
      const after = await state(second);
      for (const name of [
        'maxSyncDateTime',
        'maxSyncDateTimeUtc',
        'maxSyncDateMaxPkId',
        'sourceId',
        'customDatabaseValues',
        'lastRunStartDateTime',
        'lastSucceededAt',
      ]) {
        expect([name, after[name]]).toStrictEqual([name, before[name]]);
      }
      const runsAfter = (
        (await (await fetch(`${second.url}${integrationPath(41, 'Rack Prices')}/runs?limit=200`)).json()) as any
      ).items;
      expect(runsAfter.map((r: any) => [r.id, r.outcome, r.watermarkAfter])).toStrictEqual(
        runsBefore.map((r) => [r.id, r.outcome, r.watermarkAfter]),
      );
    } finally {
      await second.close();
    }
  });

  it('pause stops scheduled runs on every replica but still allows a manual run; resume restarts them', async () => {
    const app = await startApp(env());
    const other = await startApp(env());
    try {
      const paused = await fetch(`${app.url}${integrationPath(41, 'Rack Prices')}/pause`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ reason: 'maintenance' }),
      });
      expect(paused.status).toBe(200);
      expect(((await paused.json()) as any).paused).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const calls = simulator.callCount(key);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      expect(simulator.callCount(key)).toBe(calls);
      const manual = await fetch(`${other.url}${integrationPath(41, 'Rack Prices')}/runs`, { method: 'POST' });
      expect(manual.status).toBe(201);
      expect(((await manual.json()) as any).outcome).toBe('succeeded');
      expect(simulator.callCount(key)).toBe(calls + 1);
      expect((await state(other)).paused).toBe(true);

      const resumed = await fetch(`${other.url}${integrationPath(41, 'Rack Prices')}/resume`, { method: 'POST' });
      expect(((await resumed.json()) as any).paused).toBe(false);
      await eventually(async () => simulator.callCount(key) >= calls + 3, 5_000);
    } finally {
      await app.close();
      await other.close();
    }
  });
});

/** MAX_CONCURRENT_RUNS counts upstream calls; ends waiting to be recorded do not hold a slot. */
describe('run slots e2e', () => {
  it('makes at most MAX_CONCURRENT_RUNS calls at once, and a slot frees when the answer is in, before the run is recorded', async () => {
    const names = Array.from({ length: 9 }, (_, i) => `Slot ${i}`);
    const stack = await startStack('slots', {
      MAX_CONCURRENT_RUNS: '3',
      SCHEDULER_POLL_MS: '100',
      INTEGRATIONS: JSON.stringify(
        names.map((integrationName) => ({ sourceSystemId: 70, integrationName, cron: '0 0 0 1 1 *' })),
      ),
    });
    const sql = async (text: string) => {
      const client = new Client({ connectionString: stack.db.url });
      await client.connect();
      try {
        return (await client.query(text)).rows;
      } finally {
        await client.end();
      }
    };
    try {
      stack.simulator.setLatency(100);
      // Every statement that records run ends takes 300 ms more: recording is much slower than a call.
      await sql(
        `CREATE FUNCTION slow_finish() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.3); RETURN NULL; END $$`,
      );
      await sql(
        `CREATE TRIGGER slow_finish BEFORE UPDATE OF outcome ON run FOR EACH STATEMENT EXECUTE FUNCTION slow_finish()`,
      );
      await sql(`UPDATE integration SET next_fire_at = now()`);
      const runs = await eventually(async () => {
        const rows = await sql(`SELECT outcome, extract(epoch FROM finished_at) * 1000 AS finished_ms FROM run`);
        return rows.length === 9 && rows.every((r) => r.outcome === 'succeeded') ? rows : null;
      }, 20_000);
      const calls = stack.simulator.calls.filter((c) => c.sourceSystemId === 70);
      expect(calls.map((c) => c.integrationName).sort()).toStrictEqual(names);
      // The first claim took the 3 slots and ceil(3 × CLAIM_AHEAD_SHARE) = 2 runs ahead, all before any answer.
      const firstAnswered = Math.min(...calls.map((c) => c.finishedAt!));
      const [claimedBefore] = await sql(
        `SELECT count(*)::int AS n FROM run WHERE started_at < to_timestamp(${firstAnswered} / 1000.0)`,
      );
      expect(claimedBefore!.n).toBe(5);
      // The most calls open at one moment, from when each arrived and was answered.
      const events = calls.flatMap((c) => [
        [c.receivedAt, 1],
        [c.finishedAt!, -1],
      ]);
      events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      let open = 0;
      let mostOpen = 0;
      for (const [, delta] of events) mostOpen = Math.max(mostOpen, (open += delta));
      expect(mostOpen).toBe(3);
      // The fourth call started before the first run's end was recorded.
      const firstRecorded = Math.min(...runs.map((r) => Number(r.finished_ms)));
      const fourthCall = calls.map((c) => c.receivedAt).sort((a, b) => a - b)[3];
      expect(fourthCall).toBeLessThan(firstRecorded);
    } finally {
      await stack.close();
    }
  });

  it("a manual run's call does not let a run claimed ahead past MAX_CONCURRENT_RUNS when it ends", async () => {
    const scheduled = ['Queued 0', 'Queued 1'];
    const stack = await startStack('manualslot', {
      MAX_CONCURRENT_RUNS: '1',
      INTEGRATIONS: JSON.stringify(
        [...scheduled, 'By hand'].map((integrationName) => ({
          sourceSystemId: 72,
          integrationName,
          cron: '0 0 0 1 1 *',
        })),
      ),
    });
    const client = new Client({ connectionString: stack.db.url });
    await client.connect();
    try {
      for (const integrationName of scheduled)
        stack.simulator.script({ sourceSystemId: 72, integrationName }, { delayMs: 1_500 });
      stack.simulator.script({ sourceSystemId: 72, integrationName: 'By hand' }, { delayMs: 200 });
      await client.query(`UPDATE integration SET next_fire_at = now() WHERE integration_name LIKE 'Queued %'`);
      // One scheduled run calls, the other was claimed ahead and waits for the slot.
      await eventually(
        async () =>
          (await client.query(`SELECT count(*)::int AS n FROM run WHERE outcome = 'running'`)).rows[0].n === 2 &&
          stack.simulator.calls.length === 1,
      );
      // The manual run calls at once, beyond the one slot, and ends long before the scheduled call.
      const manual = await fetch(`${stack.app.url}${integrationPath(72, 'By hand')}/runs`, { method: 'POST' });
      expect(manual.status).toBe(201);
      await eventually(
        async () =>
          (await client.query(`SELECT count(*)::int AS n FROM run WHERE outcome = 'succeeded'`)).rows[0].n === 3,
        10_000,
      );
      const calls = stack.simulator.calls
        .filter((c) => c.integrationName !== 'By hand')
        .sort((a, b) => a.receivedAt - b.receivedAt);
      expect(calls.map((c) => c.integrationName).sort()).toStrictEqual(scheduled);
      // The waiting run got the slot when the first scheduled call ended, not when the manual one did.
      expect(calls[1].receivedAt).toBeGreaterThanOrEqual(calls[0].finishedAt!);
    } finally {
      await client.end();
      await stack.close();
    }
  });

  it('on shutdown a run claimed ahead that waits for a slot is recorded interrupted at once, without a call, while the calling run finishes within the grace period', async () => {
    const names = ['Ahead 0', 'Ahead 1'];
    const stack = await startStack('ahead', {
      MAX_CONCURRENT_RUNS: '1',
      SHUTDOWN_GRACE_MS: '5000',
      INTEGRATIONS: JSON.stringify(
        names.map((integrationName) => ({ sourceSystemId: 71, integrationName, cron: '0 0 0 1 1 *' })),
      ),
    });
    const client = new Client({ connectionString: stack.db.url });
    await client.connect();
    try {
      stack.simulator.setLatency(400);
      await client.query(`UPDATE integration SET next_fire_at = now()`);
      // One claim takes both: the slot, and ceil(1 × CLAIM_AHEAD_SHARE) = 1 run ahead.
      await eventually(
        async () =>
          (await client.query(`SELECT count(*)::int AS n FROM run WHERE outcome = 'running'`)).rows[0].n === 2 &&
          stack.simulator.calls.length === 1,
      );
      const closing = Date.now();
      await stack.app.close();
      // The call in flight (400 ms) ended well within the grace period; the waiting run did not use the freed slot.
      expect(Date.now() - closing).toBeLessThan(5_000);
      const calledName = stack.simulator.calls[0].integrationName;
      const runs = (
        await client.query(
          `SELECT i.integration_name AS name, r.outcome, r.error_code, r.error, jsonb_array_length(r.attempts) AS attempts
           FROM run r JOIN integration i ON i.id = r.integration_id ORDER BY (i.integration_name = $1) DESC`,
          [calledName],
        )
      ).rows;
      expect(runs).toStrictEqual([
        { name: calledName, outcome: 'succeeded', error_code: null, error: null, attempts: 1 },
        {
          name: names.find((n) => n !== calledName),
          outcome: 'interrupted',
          error_code: 'shutdown',
          error: 'the replica shut down while the run waited for a call slot; no call was made',
          attempts: 0,
        },
      ]);
      expect(stack.simulator.calls.length).toBe(1);
      const leases = (
        await client.query(
          `SELECT count(*)::int AS n FROM integration WHERE lease_owner IS NOT NULL OR lease_run_id IS NOT NULL`,
        )
      ).rows;
      expect(leases[0].n).toBe(0);
    } finally {
      await client.end();
      await stack.simulator.stop();
      await stack.db.drop();
    }
  });

  it('a run started after the drain (a manual run while the HTTP server closes) is recorded interrupted without a call', async () => {
    const stack = await startStack('afterdrain', {
      INTEGRATIONS: JSON.stringify([{ sourceSystemId: 73, integrationName: 'Late', cron: '0 0 0 1 1 *' }]),
    });
    try {
      const { app } = stack.app.tidemark;
      const runs = app.get(RunService);
      expect(await runs.drain(1_000)).toStrictEqual({ finished: 0, interrupted: 0 });
      const integration = (await app.get(IntegrationsRepository).findIntegration(73, 'Late'))!;
      const result = await runs.runNow(integration);
      expect(result.kind).toBe('interrupted');
      expect(
        result.kind === 'interrupted' ? [result.run?.errorCode, result.run?.error, result.run?.attempts] : null,
      ).toStrictEqual(['shutdown', 'the replica had shut down before the run started; no call was made', []]);
      expect(stack.simulator.calls.length).toBe(0);
    } finally {
      await stack.close();
    }
  });

  describe('a shutdown while a claim is on its way', () => {
    /** Holds the integration table against locking reads (plain reads go on), so that the next claim waits; resolves once one does. */
    async function holdClaims(client: Client): Promise<void> {
      await client.query('BEGIN; LOCK TABLE integration IN EXCLUSIVE MODE');
      await client.query(`UPDATE integration SET next_fire_at = now()`);
      await eventually(async () => {
        // Within a transaction pg_stat_activity is read once and then kept, unless cleared.
        await client.query('SELECT pg_stat_clear_snapshot()');
        const { rows } = await client.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '%db_now%FOR UPDATE SKIP LOCKED%' AND wait_event_type = 'Lock'`,
        );
        return rows[0].n === 1;
      });
    }

    /** One integration on a stack with SHUTDOWN_GRACE_MS `graceMs`, whose claim waits on `holder` while `test` runs. */
    async function withClaimHeld(
      label: string,
      graceMs: number,
      test: (stack: Stack, holder: Client) => Promise<void>,
    ): Promise<void> {
      const stack = await startStack(label, {
        SHUTDOWN_GRACE_MS: String(graceMs),
        INTEGRATIONS: JSON.stringify([{ sourceSystemId: 74, integrationName: label, cron: '0 0 0 1 1 *' }]),
      });
      const holder = new Client({ connectionString: stack.db.url });
      await holder.connect();
      try {
        await holdClaims(holder);
        await test(stack, holder);
      } finally {
        await holder.end();
        await stack.close();
      }
    }

    it('gives the runs of a claim that ends within the grace period the rest of it', async () => {
      await withClaimHeld('claimdrain', 5_000, async (stack, holder) => {
        const draining = stack.app.tidemark.app.get(ShutdownCoordinator).drain('test');
        await new Promise((resolve) => setTimeout(resolve, 300));
        await holder.query('COMMIT');
        await draining;
        const { rows } = await holder.query(`SELECT outcome, error FROM run`);
        expect(rows).toStrictEqual([{ outcome: 'succeeded', error: null }]);
        expect(stack.simulator.calls.length).toBe(1);
      });
    });

    it('waits for such a claim no longer than the grace period; its runs then make no call', async () => {
      await withClaimHeld('claimstuck', 1_000, async (stack, holder) => {
        const started = Date.now();
        await stack.app.tidemark.app.get(ShutdownCoordinator).drain('test');
        const tookMs = Date.now() - started;
        expect(tookMs).toBeGreaterThanOrEqual(950);
        expect(tookMs).toBeLessThan(2_500);
        await holder.query('COMMIT');
        const run = await eventually(async () => {
          const { rows } = await holder.query(`SELECT outcome, error FROM run WHERE outcome <> 'running'`);
          return rows[0];
        });
        expect(run).toStrictEqual({
          outcome: 'interrupted',
          error: 'the replica had shut down before the run started; no call was made',
        });
        expect(stack.simulator.calls.length).toBe(0);
      });
    });
  });
});

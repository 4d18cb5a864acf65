import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { join } from 'node:path';
import { Client } from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UpstreamSimulator } from '../../src/demo/simulator';
import { NEVER } from '../support/app';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { startReplica, type Replica } from '../support/replica';

/**
 * Replica coordination with real processes of the built service, one real Postgres database per test and the
 * simulator counting the calls it receives.
 */
const CLOCK_SKEW = join(process.cwd(), 'test/support/clock-skew.cjs');
const OPERATE_KEY = 'Zr8XqkfW2Lm0aT5nVbC7yHd1sPj4uEo9gKi3wNx6QcM';
const API_KEYS = JSON.stringify([
  {
    name: 'operator',
    keyHash: `sha256:${createHash('sha256').update(OPERATE_KEY).digest('hex')}`,
    scopes: ['read', 'operate'],
  },
]);

/** The status, headers and body of one POST without a body, on a connection of its own. */
function post(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: { ...res.headers }, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('replicas of the built service', () => {
  let simulator: UpstreamSimulator;
  let upstream: string;
  const replicas: Replica[] = [];
  const databases: TestDatabase[] = [];

  beforeAll(async () => {
    simulator = new UpstreamSimulator();
    upstream = await simulator.start();
  });

  afterEach(async () => {
    await Promise.all(replicas.splice(0).map((r) => r.stop('SIGKILL')));
    simulator.reset();
    simulator.setLatency(0);
  });

  afterAll(async () => {
    await simulator?.stop();
    for (const db of databases) await db.drop();
  });

  async function database(): Promise<{
    url: string;
    query: <T = Record<string, unknown>>(text: string, params?: unknown[]) => Promise<T[]>;
  }> {
    const db = await createTestDatabase('proc');
    databases.push(db);
    return {
      url: db.url,
      query: async <T>(text: string, params: unknown[] = []) => {
        const client = new Client({ connectionString: db.url });
        await client.connect();
        try {
          return (await client.query(text, params)).rows as T[];
        } finally {
          await client.end();
        }
      },
    };
  }

  async function launch(name: string, env: Record<string, string>): Promise<Replica> {
    const replica = await startReplica(name, { UPSTREAM_BASE_URL: upstream, ...env });
    replicas.push(replica);
    return replica;
  }

  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const integrations = (count: number, extra: Record<string, unknown> = {}) =>
    JSON.stringify(
      Array.from({ length: count }, (_, i) => ({
        sourceSystemId: 100 + i,
        integrationName: `Feed ${i}`,
        cron: '* * * * * *',
        ...extra,
      })),
    );

  it('three replicas on a 1-second cron, with clocks 2 s apart, make exactly one call and one run per (integration, tick)', async () => {
    const db = await database();
    const env = { DATABASE_URL: db.url, INTEGRATIONS: integrations(10) };
    // Replica b's clock runs 1 s ahead and c's 1 s behind: due-ness is judged by the database's clock.
    const skews: Record<string, string> = { a: '0', b: '1000', c: '-1000' };
    const started = await Promise.all(
      ['a', 'b', 'c'].map((n) =>
        launch(`replica-${n}`, {
          ...env,
          NODE_OPTIONS: `--require ${CLOCK_SKEW}`,
          TIDEMARK_TEST_CLOCK_SKEW_MS: skews[n],
        }),
      ),
    );
    await Promise.all(started.map((r) => r.ready()));
    await sleep(20_000);
    await Promise.all(started.map((r) => r.stop('SIGTERM')));

    const rows = await db.query<{ source_system_id: number; ticks: string[]; replicas: string[] }>(
      `SELECT i.source_system_id, array_agg(to_char(r.scheduled_for AT TIME ZONE 'UTC', 'HH24:MI:SS') ORDER BY r.scheduled_for) AS ticks,
              array_agg(DISTINCT r.replica_id) AS replicas
       FROM run r JOIN integration i ON i.id = r.integration_id
       WHERE r.outcome = 'succeeded' GROUP BY i.source_system_id ORDER BY 1`,
    );
    expect(rows.map((r) => r.source_system_id)).toStrictEqual(Array.from({ length: 10 }, (_, i) => 100 + i));
    const replicasUsed = new Set<string>();
    for (const row of rows) {
      row.replicas.forEach((r) => replicasUsed.add(r));
      // One run per tick and no gaps: consecutive seconds from the first tick to the last.
      const seconds = row.ticks.map((t) => {
        const [h, m, s] = t.split(':').map(Number);
        return h * 3600 + m * 60 + s;
      });
      expect(seconds.length).toBeGreaterThanOrEqual(17);
      expect(seconds).toStrictEqual(seconds.map((_, i) => seconds[0] + i));
      const key = { sourceSystemId: row.source_system_id, integrationName: `Feed ${row.source_system_id - 100}` };
      expect(simulator.callCount(key)).toBe(seconds.length);
    }
    const [{ other }] = await db.query<{ other: string }>(
      `SELECT count(*)::text AS other FROM run WHERE outcome <> 'succeeded'`,
    );
    expect(other).toBe('0');
    // The work is shared: more than one replica ran ticks.
    expect(replicasUsed.size).toBeGreaterThan(1);
  }, 60_000);

  it('never has two calls in flight for one integration when calls outlast the tick', async () => {
    const db = await database();
    simulator.setLatency(1_500);
    const env = { DATABASE_URL: db.url, INTEGRATIONS: integrations(3) };
    const pair = await Promise.all(['a', 'b'].map((n) => launch(`slow-${n}`, env)));
    await Promise.all(pair.map((r) => r.ready()));
    await sleep(8_000);
    await Promise.all(pair.map((r) => r.stop('SIGTERM')));
    for (let i = 0; i < 3; i++) {
      const key = { sourceSystemId: 100 + i, integrationName: `Feed ${i}` };
      expect(simulator.callCount(key)).toBeGreaterThanOrEqual(3);
      expect(simulator.maxInFlight(key)).toBe(1);
    }
    const overlaps = await db.query(
      `SELECT a.id FROM run a JOIN run b ON a.integration_id = b.integration_id AND a.id < b.id
       WHERE tstzrange(a.started_at, a.finished_at) && tstzrange(b.started_at, b.finished_at)`,
    );
    expect(overlaps).toStrictEqual([]);
  }, 60_000);

  it('marks the run of a replica killed with SIGKILL abandoned within the lease time, and later ticks run', async () => {
    const db = await database();
    const key = { sourceSystemId: 100, integrationName: 'Feed 0' };
    simulator.script(key, { hangForever: true });
    const env = { DATABASE_URL: db.url, INTEGRATIONS: integrations(1), RUN_LEASE_MS: '3000' };
    const doomed = await launch('doomed', env);
    await doomed.ready();
    const deadline = Date.now() + 5_000;
    while (simulator.inFlight(key) === 0 && Date.now() < deadline) await sleep(50);
    expect(simulator.inFlight(key)).toBe(1);
    const killedAt = Date.now();
    expect(await doomed.stop('SIGKILL')).toBe('SIGKILL');
    const survivor = await launch('survivor', env);
    await survivor.ready();
    let runs: Array<{ replica_id: string; outcome: string; finished_at: Date | null }>;
    for (;;) {
      runs = await db.query(`SELECT replica_id, outcome, finished_at FROM run ORDER BY id`);
      if (
        runs[0]?.outcome === 'abandoned' &&
        runs.some((r) => r.replica_id === 'survivor' && r.outcome === 'succeeded')
      )
        break;
      if (Date.now() - killedAt > 10_000) throw new Error(`not recovered: ${JSON.stringify(runs)}`);
      await sleep(100);
    }
    expect(runs[0]).toMatchObject({ replica_id: 'doomed', outcome: 'abandoned' });
    // Abandoned once the 3 s lease ran out (plus one poll), not later.
    expect(runs[0].finished_at!.getTime() - killedAt).toBeLessThan(3_000 + 2_000);
    const [{ running }] = await db.query<{ running: string }>(
      `SELECT count(*)::text AS running FROM run WHERE outcome = 'running' AND replica_id = 'doomed'`,
    );
    expect(running).toBe('0');
  }, 60_000);

  it('on SIGTERM finishes the in-flight run within grace, exits 0 and leaves no lease', async () => {
    const db = await database();
    const key = { sourceSystemId: 100, integrationName: 'Feed 0' };
    simulator.script(key, { delayMs: 2_000 });
    const replica = await launch('graceful', {
      DATABASE_URL: db.url,
      INTEGRATIONS: integrations(1),
      SHUTDOWN_GRACE_MS: '10000',
    });
    await replica.ready();
    while (simulator.inFlight(key) === 0) await sleep(50);
    const signalledAt = Date.now();
    replica.process.kill('SIGTERM');
    // While draining, the replica says it is not ready.
    await sleep(300);
    expect((await fetch(`${replica.url}/health/ready`)).status).toBe(503);
    expect(await replica.exited).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(10_000);
    const runs = await db.query<{ outcome: string }>(`SELECT outcome FROM run ORDER BY id`);
    expect(runs.map((r) => r.outcome)).toStrictEqual(['succeeded']);
    const leases = await db.query(`SELECT id FROM integration WHERE lease_owner IS NOT NULL`);
    expect(leases).toStrictEqual([]);
  }, 60_000);

  it('on SIGTERM past the grace period marks the run interrupted, releases the lease and exits 0', async () => {
    const db = await database();
    const key = { sourceSystemId: 100, integrationName: 'Feed 0' };
    simulator.script(key, { hangForever: true });
    const replica = await launch('impatient', {
      DATABASE_URL: db.url,
      INTEGRATIONS: integrations(1),
      SHUTDOWN_GRACE_MS: '1000',
    });
    await replica.ready();
    while (simulator.inFlight(key) === 0) await sleep(50);
    expect(await replica.stop('SIGTERM')).toBe(0);
    const runs = await db.query<{ outcome: string; error_code: string }>(
      `SELECT outcome, error_code FROM run ORDER BY id`,
    );
    expect(runs).toStrictEqual([{ outcome: 'interrupted', error_code: 'shutdown' }]);
    expect(await db.query(`SELECT id FROM integration WHERE lease_owner IS NOT NULL`)).toStrictEqual([]);
  }, 60_000);

  it('on SIGTERM past the grace period answers a manual run 201 with the interrupted run as recorded', async () => {
    const db = await database();
    const key = { sourceSystemId: 100, integrationName: 'Feed 0' };
    simulator.script(key, { hangForever: true });
    const replica = await launch('answering', {
      DATABASE_URL: db.url,
      INTEGRATIONS: integrations(1, { cron: NEVER }),
      API_KEYS,
      SHUTDOWN_GRACE_MS: '500',
    });
    await replica.ready();
    const answer = post(`${replica.url}/integrations/100/Feed%200/runs`, { 'x-api-key': OPERATE_KEY });
    while (simulator.inFlight(key) === 0) await sleep(50);
    expect(await replica.stop('SIGTERM')).toBe(0);
    const { status, headers, body } = await answer;
    const [run] = await db.query<{ id: string; started_at: Date; finished_at: Date; attempts: Array<object> }>(
      `SELECT id::text, started_at, finished_at, attempts FROM run ORDER BY id`,
    );
    expect(run.attempts).toHaveLength(1);
    expect(status).toBe(201);
    expect(headers.location).toBe(`/integrations/100/Feed%200/runs/${run.id}`);
    expect(headers.connection).toBe('close');
    expect(JSON.parse(body)).toStrictEqual({
      id: run.id,
      trigger: 'manual',
      scheduledFor: null,
      replicaId: 'answering',
      startedAt: run.started_at.toISOString(),
      finishedAt: run.finished_at.toISOString(),
      outcome: 'interrupted',
      errorCode: 'shutdown',
      error: 'the replica shut down before the upstream answered (grace 500 ms)',
      httpStatus: null,
      watermarkBefore: null,
      watermarkAfter: null,
      attempts: [
        {
          ...run.attempts[0],
          attempt: 1,
          error: `call to upstream ${upstream}/api/integration/IntegrationStatus/IntegrationStart was cancelled by the caller after the request had been sent`,
          errorCode: 'aborted',
          httpStatus: null,
        },
      ],
      outcomeUnknownRetried: false,
      watermarkRegressed: false,
    });
  }, 60_000);

  for (const policy of ['fire_once_now', 'skip'] as const) {
    it(`after every replica was down across 3+ ticks, misfire policy ${policy} makes ${policy === 'skip' ? 'no' : 'one'} catch-up run`, async () => {
      const db = await database();
      const env = {
        DATABASE_URL: db.url,
        INTEGRATIONS: integrations(1, { misfirePolicy: policy }),
        MISFIRE_THRESHOLD_MS: '1500',
      };
      const first = await launch(`before-${policy}`, env);
      await first.ready();
      await sleep(2_000);
      expect(await first.stop('SIGTERM')).toBe(0);
      const stoppedAt = new Date();
      await sleep(4_000);
      const restartedAt = new Date();
      const second = await launch(`after-${policy}`, env);
      await second.ready();
      await sleep(2_500);
      await second.stop('SIGTERM');
      // Catch-up runs are the restarted replica's runs of fire times from before it started.
      const catchUp = await db.query<{ scheduled_for: Date }>(
        `SELECT scheduled_for FROM run WHERE replica_id = $1 AND scheduled_for < $2::timestamptz ORDER BY id`,
        [`after-${policy}`, restartedAt],
      );
      expect(catchUp.length).toBe(policy === 'skip' ? 0 : 1);
      if (policy === 'fire_once_now')
        expect(catchUp[0].scheduled_for.getTime()).toBeLessThan(stoppedAt.getTime() + 1_000);
      const after = await db.query(`SELECT id FROM run WHERE replica_id = $1 AND scheduled_for >= $2::timestamptz`, [
        `after-${policy}`,
        restartedAt,
      ]);
      expect(after.length).toBeGreaterThanOrEqual(1);
    }, 60_000);
  }

  it('three replicas starting together on an empty database apply the migrations once', async () => {
    const db = await database();
    const env = { DATABASE_URL: db.url, INTEGRATIONS: integrations(2, { cron: '0 0 0 1 1 *' }) };
    const trio = await Promise.all(['x', 'y', 'z'].map((n) => launch(`boot-${n}`, env)));
    await Promise.all(trio.map((r) => r.ready()));
    const migrations = await db.query<{ name: string }>(`SELECT name FROM tidemark_migrations`);
    expect(migrations.map((m) => m.name)).toStrictEqual([
      'CreateIntegrationAndRunTables1795948200000',
      'RecordAttemptsAndRegressions1795948500000',
      'LetRunFinishesUpdateIntegrationsInPlace1795958400000',
      'EventOutbox1795970000000',
      'AuditAndPauseReason1796100000000',
      'RecordTheAssumedUpstreamZone1796200000000',
      'KeepCustomDatabaseValuesInUpstreamOrder1796300000000',
    ]);
    expect(await db.query(`SELECT integration_name FROM integration ORDER BY 1`)).toStrictEqual([
      { integration_name: 'Feed 0' },
      { integration_name: 'Feed 1' },
    ]);
    for (const replica of trio) expect(replica.output()).not.toMatch(/error/i);
  }, 60_000);
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../../src/demo/embedded-postgres';
import { UpstreamSimulator } from '../../src/demo/simulator';
import { eventually, integrationPath, startApp, type RunningApp } from '../support/app';

/**
 * Stops and starts a Postgres of the test's own (an embedded instance, so nothing else is disturbed) under a
 * running service: the process keeps serving, readiness follows the database, and nothing is lost or half-written.
 */
describe('Postgres restarts under a running service', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tidemark-outage-pg-'));
  let pg: EmbeddedPostgresHandle;
  let port: number;
  let simulator: UpstreamSimulator;
  let app: RunningApp;
  const key = { sourceSystemId: 5, integrationName: 'Meters' };

  const status = async (path: string) => (await fetch(app.url + path)).status;
  const runs = async () => {
    const client = new Client({ connectionString: pg.url });
    await client.connect();
    try {
      return (
        await client.query(`SELECT id::int, outcome, watermark_after->>'maxSyncDateMaxPkId' AS pk FROM run ORDER BY id`)
      ).rows as Array<{
        id: number;
        outcome: string;
        pk: string | null;
      }>;
    } finally {
      await client.end();
    }
  };

  beforeAll(async () => {
    pg = await startEmbeddedPostgres({ dataDir });
    port = pg.port;
    simulator = new UpstreamSimulator();
    const upstream = await simulator.start();
    app = await startApp({
      DATABASE_URL: pg.url,
      UPSTREAM_BASE_URL: upstream,
      INTEGRATIONS: JSON.stringify([{ ...key, cron: '* * * * * *' }]),
      DB_CONNECT_TIMEOUT_MS: '1000',
      DB_WRITE_RETRY_MS: '30000',
    });
  }, 90_000);

  afterAll(async () => {
    await app?.close();
    await simulator?.stop();
    await pg?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps serving through the outage, reports not ready, then recovers and persists the next ticks', async () => {
    await eventually(async () => (await runs()).some((r) => r.outcome === 'succeeded'));

    // A run in flight when the database goes away must still be recorded once it is back.
    simulator.script(key, { delayMs: 1_500 });
    await eventually(async () => simulator.inFlight(key) === 1);
    const inFlightRun = (await runs()).at(-1)!;
    expect(inFlightRun.outcome).toBe('running');
    await pg.stop();
    const downAt = Date.now();

    expect(await status('/health/live')).toBe(200);
    await eventually(async () => (await status('/health/ready')) === 503, 5_000);
    expect((await fetch(app.url + integrationPath(5, 'Meters'))).status).toBeGreaterThanOrEqual(500);
    // An unreachable database is a 503 problem that says when to come back, never a 500.
    const outage = await fetch(`${app.url}${integrationPath(5, 'Meters')}/runs`);
    expect([outage.status, outage.headers.get('retry-after'), outage.headers.get('content-type')]).toStrictEqual([
      503,
      '5',
      'application/problem+json; charset=utf-8',
    ]);
    expect(await outage.json()).toMatchObject({ type: 'https://tidemark.dev/problems/unavailable', status: 503 });
    // Ticks fail while it is down; the process must not crash (an unhandled rejection would fail this test).
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(await status('/health/live')).toBe(200);

    pg = await startEmbeddedPostgres({ dataDir, port });
    const upAt = Date.now();
    await eventually(async () => (await status('/health/ready')) === 200, 5_000);
    expect(Date.now() - upAt).toBeLessThan(5_000);

    const before = await runs();
    await eventually(
      async () =>
        (await runs()).filter((r) => r.outcome === 'succeeded').length >=
        before.filter((r) => r.outcome === 'succeeded').length + 2,
      10_000,
    );
    const after = await runs();
    // Nothing stays half-written: every run ended, or is the one going on right now.
    expect(after.filter((r) => r.outcome === 'running').length).toBeLessThanOrEqual(1);
    // The run that finished while the database was down was written once it came back.
    expect(after.find((r) => r.id === inFlightRun.id)?.outcome).toBe('succeeded');
    expect(after.filter((r) => r.outcome !== 'succeeded' && r.outcome !== 'running')).toStrictEqual([]);
    const succeededPks = after.filter((r) => r.outcome === 'succeeded').map((r) => BigInt(r.pk!));
    expect(succeededPks).toStrictEqual([...succeededPks].sort((a, b) => (a < b ? -1 : 1)));
    expect(new Set(succeededPks).size).toBe(succeededPks.length);
    expect(simulator.callCount(key)).toBeGreaterThanOrEqual(succeededPks.length);
    expect(downAt).toBeLessThan(upAt);
  }, 90_000);
});

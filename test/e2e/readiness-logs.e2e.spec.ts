import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { UpstreamSimulator } from '../../src/demo/simulator';
import { eventually, integrationPath, NEVER, startApp, type RunningApp } from '../support/app';
import { createTestDatabase, type TestDatabase } from '../support/database';

const ORDERS = { sourceSystemId: 7, integrationName: 'Orders' };

/** What readiness logs: a planned drain is no error (nothing to page for), a database outage is one. */
describe('readiness logs', () => {
  const databases: TestDatabase[] = [];
  const apps: RunningApp[] = [];
  let simulator: UpstreamSimulator;
  let upstream: string;
  /**
   * Every log line (pino JSON, parsed) of the apps started here. Apps in one process share one pino root, so all
   * of them write to this one destination; a test picks its lines by request id.
   */
  const logs: Array<Record<string, any>> = [];
  const destination = { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, any>) };

  async function launch(env: Record<string, string> = {}): Promise<{ app: RunningApp; db: TestDatabase }> {
    const db = await createTestDatabase('readylog');
    databases.push(db);
    const app = await startApp(
      {
        DATABASE_URL: db.url,
        UPSTREAM_BASE_URL: upstream,
        LOG_LEVEL: 'info',
        INTEGRATIONS: JSON.stringify([{ ...ORDERS, cron: NEVER }]),
        ...env,
      },
      { logDestination: destination },
    );
    apps.push(app);
    return { app, db };
  }

  /** The lines logged for one request: level, message, status and whether an error object came with it. */
  const linesOf = (requestId: string) =>
    logs
      .filter((line) => line.requestId === requestId)
      .map((line) => ({ level: line.level, msg: line.msg, statusCode: line.res?.statusCode, err: 'err' in line }));

  const probe = (app: RunningApp, requestId: string) =>
    fetch(`${app.url}/health/ready`, { headers: { 'x-request-id': requestId } });

  /** Turns the database of `db` away (new connections refused, open ones ended), or lets it in again. */
  async function refuseConnections(db: TestDatabase, refuse: boolean): Promise<void> {
    const name = new URL(db.url).pathname.slice(1);
    const admin = new Client({ connectionString: inject('adminDatabaseUrl') });
    await admin.connect();
    try {
      await admin.query(`ALTER DATABASE ${admin.escapeIdentifier(name)} WITH ALLOW_CONNECTIONS ${String(!refuse)}`);
      if (refuse) {
        await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);
      }
    } finally {
      await admin.end();
    }
  }

  beforeAll(async () => {
    simulator = new UpstreamSimulator();
    upstream = await simulator.start();
  });

  afterAll(async () => {
    for (const app of apps) await app.close().catch(() => undefined);
    await simulator?.stop();
    for (const db of databases) await db.drop();
  });

  it('answers 503 during a drain with one info line per probe: no terminus error, no error object', async () => {
    const { app } = await launch({ SHUTDOWN_GRACE_MS: '10000' });
    expect((await probe(app, 'ready-before-drain')).status).toBe(200);
    // A successful probe is logged at debug, below LOG_LEVEL.
    expect(linesOf('ready-before-drain')).toStrictEqual([]);
    simulator.script(ORDERS, { delayMs: 1_500 });
    const run = fetch(`${app.url}${integrationPath(7, 'Orders')}/runs`, { method: 'POST' });
    await eventually(async () => simulator.inFlight(ORDERS) === 1);
    const drainFrom = logs.length;
    const closing = app.tidemark.close();
    await eventually(async () => (await fetch(`${app.url}/health/ready`)).status === 503, 1_000);
    const draining = await probe(app, 'ready-while-draining');
    expect(draining.status).toBe(503);
    const body = (await draining.json()) as Record<string, any>;
    expect([body.status, body.error]).toStrictEqual([
      'error',
      { shutdown: { status: 'down', message: 'the replica is shutting down' } },
    ]);
    expect((await run).status).toBe(201);
    await closing;
    expect(linesOf('ready-while-draining')).toStrictEqual([
      { level: 'info', msg: 'request completed', statusCode: 503, err: false },
    ]);
    expect(logs.slice(drainFrom).filter((line) => line.level !== 'info' && line.level !== 'debug')).toStrictEqual([]);
  });

  it('logs a failed database check at error, with the checks, and the 503 itself at info', async () => {
    const { app, db } = await launch();
    await refuseConnections(db, true);
    try {
      await eventually(async () => (await fetch(`${app.url}/health/ready`)).status === 503, 5_000);
      const response = await probe(app, 'ready-database-down');
      expect(response.status).toBe(503);
      const body = (await response.json()) as Record<string, any>;
      expect([body.status, Object.keys(body.error), body.error.database.status]).toStrictEqual([
        'error',
        ['database'],
        'down',
      ]);
      // Terminus logs the details of its checks: every one but `shutdown`, which the controller adds.
      const { shutdown, ...checked } = body.details as Record<string, unknown>;
      expect(shutdown).toStrictEqual({ status: 'up' });
      expect(linesOf('ready-database-down')).toStrictEqual([
        {
          level: 'error',
          msg: `Health Check has failed! ${JSON.stringify(checked)}`,
          statusCode: undefined,
          err: false,
        },
        { level: 'info', msg: 'request completed', statusCode: 503, err: false },
      ]);
    } finally {
      await refuseConnections(db, false);
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTidemarkApp } from '../../src/bootstrap';
import { loadConfig, type Env } from '../../src/config';
import { UpstreamSimulator } from '../../src/demo/simulator';
import { NEVER, type RunningApp } from '../support/app';
import { createTestDatabase, type TestDatabase } from '../support/database';

/** Two replicas on one database whose INTEGRATIONS disagree: the second says what it changed, and the hashes differ. */
describe('configuration drift between replicas', () => {
  let db: TestDatabase;
  let simulator: UpstreamSimulator;
  let upstream: string;

  beforeAll(async () => {
    db = await createTestDatabase('drift');
    simulator = new UpstreamSimulator();
    upstream = await simulator.start();
  });

  afterAll(async () => {
    await simulator?.stop();
    await db?.drop();
  });

  /**
   * Every log line (pino JSON, parsed) of the apps started here. Apps in one process share one pino root, so the
   * lines of one app are those logged while it started.
   */
  const logs: Array<Record<string, unknown>> = [];

  /** Starts an app whose log lines are kept in `logs`; `logs` holds the lines of its start. */
  async function startLogged(env: Env): Promise<RunningApp & { logs: Array<Record<string, unknown>> }> {
    const from = logs.length;
    const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env }, process.cwd());
    const tidemark = await createTidemarkApp(config, {
      logger: false,
      logDestination: { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) },
    });
    await tidemark.app.listen(0, '127.0.0.1');
    const address = tidemark.app.getHttpServer().address();
    if (!address || typeof address === 'string') throw new Error('no TCP address');
    return { tidemark, url: `http://127.0.0.1:${address.port}`, close: () => tidemark.close(), logs: logs.slice(from) };
  }

  const integration = (sourceSystemId: number, integrationName: string, extra: Record<string, unknown> = {}) => ({
    sourceSystemId,
    integrationName,
    cron: NEVER,
    timeZone: 'UTC',
    ...extra,
  });

  const configHashOf = async (app: RunningApp) => {
    const ready = (await (await fetch(`${app.url}/health/ready`)).json()) as {
      details: { config: { status: string; configHash: string } };
    };
    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    const labels = [...metrics.matchAll(/^tidemark_config_info\{config_hash="([0-9a-f]+)"\} 1$/gm)].map((m) => m[1]);
    expect(ready.details.config.status).toBe('up');
    expect(labels).toStrictEqual([ready.details.config.configHash]);
    return ready.details.config.configHash;
  };

  const driftWarnings = (logs: Array<Record<string, unknown>>) =>
    logs.filter((line) => line.level === 'warn' && String(line.msg).includes('differ from the database'));

  it('a second replica with other INTEGRATIONS logs one warning listing exactly what it changed; hashes differ', async () => {
    const first = await startLogged({
      DATABASE_URL: db.url,
      UPSTREAM_BASE_URL: upstream,
      INTEGRATIONS: JSON.stringify([
        integration(1, 'Orders'),
        integration(2, 'Invoices'),
        integration(3, 'Tanks'),
        integration(4, 'Rack Prices'),
      ]),
    });
    let second: Awaited<ReturnType<typeof startLogged>> | undefined;
    try {
      // The first replica created the set: no warning, nothing drifted.
      expect(driftWarnings(first.logs)).toStrictEqual([]);
      const firstHash = await configHashOf(first);
      second = await startLogged({
        DATABASE_URL: db.url,
        UPSTREAM_BASE_URL: upstream,
        INTEGRATIONS: JSON.stringify([
          integration(4, 'Rack Prices', { cron: '0 */5 * * * *' }),
          integration(1, 'Orders', { timeZone: 'America/Chicago', misfirePolicy: 'skip' }),
          integration(5, 'Terminals'),
        ]),
      });
      const warnings = driftWarnings(second.logs);
      expect(warnings).toHaveLength(1);
      const secondHash = await configHashOf(second);
      expect(secondHash).not.toBe(firstHash);
      expect(firstHash).toMatch(/^[0-9a-f]{16}$/);
      expect(warnings[0].configHash).toBe(secondHash);
      expect(warnings[0].msg).toBe(
        `this replica's integrations (config hash ${secondHash}) differ from the database's; it changed them: ` +
          'added 5/"Terminals"; disabled 2/"Invoices", 3/"Tanks"; ' +
          'schedule changed 1/"Orders" (timeZone "UTC" -> "America/Chicago", misfirePolicy "fire_once_now" -> "skip"), ' +
          `4/"Rack Prices" (cron "${NEVER}" -> "0 */5 * * * *")`,
      );
      expect(warnings[0].drift).toStrictEqual({
        added: [{ sourceSystemId: 5, integrationName: 'Terminals' }],
        disabled: [
          { sourceSystemId: 2, integrationName: 'Invoices' },
          { sourceSystemId: 3, integrationName: 'Tanks' },
        ],
        scheduleChanged: [
          {
            sourceSystemId: 1,
            integrationName: 'Orders',
            changes: {
              timeZone: { from: 'UTC', to: 'America/Chicago' },
              misfirePolicy: { from: 'fire_once_now', to: 'skip' },
            },
          },
          {
            sourceSystemId: 4,
            integrationName: 'Rack Prices',
            changes: { cron: { from: NEVER, to: '0 */5 * * * *' } },
          },
        ],
        counts: { added: 1, disabled: 2, scheduleChanged: 2 },
      });
    } finally {
      await second?.close();
      await first.close();
    }
  });

  it('replicas with the same settings in another order have one hash, and the second logs no drift', async () => {
    const set = [integration(7, 'Alpha'), integration(8, 'Beta', { cron: '0 0 * * * *' })];
    const env = { DATABASE_URL: db.url, UPSTREAM_BASE_URL: upstream };
    const first = await startLogged({ ...env, REPLICA_ID: 'one', INTEGRATIONS: JSON.stringify(set) });
    const second = await startLogged({ ...env, REPLICA_ID: 'two', INTEGRATIONS: JSON.stringify([...set].reverse()) });
    try {
      expect(driftWarnings(second.logs)).toStrictEqual([]);
      expect(await configHashOf(second)).toBe(await configHashOf(first));
    } finally {
      await second.close();
      await first.close();
    }
  });
});

import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Env } from '../../src/config';
import { UpstreamSimulator } from '../../src/demo/simulator';
import { integrationPath, NEVER, startApp, type RunningApp } from '../support/app';
import { createTestDatabase, type TestDatabase } from '../support/database';

const OPERATE_KEY = 'operator-key-Rt5yU8iO2pL4kJ6h';
const API_KEYS = JSON.stringify([
  {
    name: 'alice',
    keyHash: `sha256:${createHash('sha256').update(OPERATE_KEY).digest('hex')}`,
    scopes: ['read', 'operate'],
  },
]);
const ORDERS = { sourceSystemId: 7, integrationName: 'Orders', cron: NEVER };
const RETIRED = { sourceSystemId: 7, integrationName: 'Retired', cron: NEVER };
const SWITCHED_OFF = { sourceSystemId: 9, integrationName: 'Switched Off', cron: NEVER, enabled: false };
const PROBLEM_JSON = 'application/problem+json; charset=utf-8';

/**
 * Run now on a disabled integration, through the whole app: one replica runs `Retired`, then a replica whose
 * INTEGRATIONS no longer lists it (and lists another with `enabled: false`) takes over the same database.
 */
describe('run now on a disabled integration e2e', () => {
  let db: TestDatabase;
  let simulator: UpstreamSimulator;
  let app: RunningApp | undefined;
  let upstream: string;

  const start = async (integrations: unknown[]) =>
    startApp({
      DATABASE_URL: db.url,
      UPSTREAM_BASE_URL: upstream,
      UPSTREAM_RETRY_MAX_ATTEMPTS: '1',
      INTEGRATIONS: JSON.stringify(integrations),
      API_KEYS,
    } satisfies Env);
  const headers = { authorization: `Bearer ${OPERATE_KEY}` };
  const trigger = (path: string) => fetch(`${app!.url}${path}/runs`, { method: 'POST', headers });
  const get = async (path: string) => (await (await fetch(`${app!.url}${path}`, { headers })).json()) as any;

  beforeAll(async () => {
    db = await createTestDatabase('rundisabled');
    simulator = new UpstreamSimulator();
    upstream = await simulator.start();
    app = await start([ORDERS, RETIRED]);
    expect((await trigger(integrationPath(7, 'Retired'))).status).toBe(201);
    await app.close();
    app = await start([ORDERS, SWITCHED_OFF]);
  });

  afterAll(async () => {
    await app?.close();
    await simulator?.stop();
    await db?.drop();
  });

  it('answers 409 problem+json to an integration no longer configured, and writes no run and no audit entry', async () => {
    const path = integrationPath(7, 'Retired');
    expect((await get(path)).enabled).toBe(false);
    const runsBefore = (await get(`${path}/runs?limit=200`)).items;
    const auditBefore = (await get('/audit?limit=200')).items;
    const callsBefore = simulator.callCount({ sourceSystemId: 7, integrationName: 'Retired' });
    expect([runsBefore.length, auditBefore.length, callsBefore]).toStrictEqual([1, 1, 1]);

    const refused = await trigger(path);
    expect([
      refused.status,
      refused.headers.get('content-type'),
      refused.headers.get('retry-after'),
      refused.headers.get('location'),
    ]).toStrictEqual([409, PROBLEM_JSON, null, null]);
    expect(await refused.json()).toStrictEqual({
      type: 'https://tidemark.dev/problems/conflict',
      title: 'Conflict',
      status: 409,
      detail:
        'integration 7/"Retired" is disabled (no longer in INTEGRATIONS, or `enabled: false` there), so it can\'t be run',
      instance: '/integrations/7/Retired/runs',
    });

    expect((await get(`${path}/runs?limit=200`)).items).toStrictEqual(runsBefore);
    expect((await get('/audit?limit=200')).items).toStrictEqual(auditBefore);
    expect(simulator.callCount({ sourceSystemId: 7, integrationName: 'Retired' })).toBe(1);
  });

  it('answers the same 409 to an integration configured with enabled: false, which then has no runs at all', async () => {
    const path = integrationPath(9, 'Switched Off');
    const refused = await trigger(path);
    expect([refused.status, refused.headers.get('content-type')]).toStrictEqual([409, PROBLEM_JSON]);
    expect(await refused.json()).toStrictEqual({
      type: 'https://tidemark.dev/problems/conflict',
      title: 'Conflict',
      status: 409,
      detail:
        'integration 9/"Switched Off" is disabled (no longer in INTEGRATIONS, or `enabled: false` there), so it can\'t be run',
      instance: '/integrations/9/Switched%20Off/runs',
    });
    expect(await get(`${path}/runs?limit=200`)).toStrictEqual({ items: [], nextCursor: null });
    expect((await get('/audit?sourceSystemId=9')).items).toStrictEqual([]);
    expect(simulator.callCount({ sourceSystemId: 9, integrationName: 'Switched Off' })).toBe(0);
    // Never scheduled, so its schedule lists no fire times, while an enabled one lists five.
    expect((await get(`${path}/schedule`)).nextFireTimes).toStrictEqual([]);
    expect((await get(`${integrationPath(7, 'Orders')}/schedule`)).nextFireTimes).toHaveLength(5);
  });

  it('still runs an enabled integration on the same replica', async () => {
    expect((await trigger(integrationPath(7, 'Orders'))).status).toBe(201);
    expect((await get(`${integrationPath(7, 'Orders')}/runs`)).items).toHaveLength(1);
  });
});

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { UpstreamSimulator } from '../../src/demo/simulator';
import { integrationPath, NEVER, type RunningApp } from '../support/app';
import { startStack, type Stack } from '../support/stack';

const FIXTURES = join(process.cwd(), 'test/fixtures/upstream');
const vectors = readdirSync(join(FIXTURES, 'responses')).sort();

function expectedOf(vector: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(FIXTURES, 'expected', vector.replace(/\.(json|xml)$/, '.json')), 'utf8'));
}

const IDENTITIES = [
  { sourceSystemId: 2, integrationName: 'sample string 1' },
  { sourceSystemId: 7, integrationName: 'Orders' },
  { sourceSystemId: 12, integrationName: 'Invoices' },
  { sourceSystemId: 3, integrationName: 'Tank Readings / Läger Ω' },
];

describe('facade e2e: vectors through the whole app', () => {
  let stack: Stack;
  let simulator: UpstreamSimulator;
  let app: RunningApp;

  beforeAll(async () => {
    stack = await startStack('e2e', {
      UPSTREAM_TIMEOUT_MS: '2000',
      // This file makes many failing runs in a row on purpose; the breaker has its own tests.
      UPSTREAM_BREAKER_THRESHOLD: '1000',
      UPSTREAM_RETRY_BASE_MS: '10',
      INTEGRATIONS: JSON.stringify(IDENTITIES.map((i) => ({ ...i, cron: NEVER }))),
    });
    ({ simulator, app } = stack);
  });

  afterAll(() => stack?.close());

  beforeEach(() => simulator.reset());

  const post = (path: string) => fetch(app.url + path, { method: 'POST' });
  const getJson = async (path: string) => {
    const response = await fetch(app.url + path);
    return {
      status: response.status,
      type: response.headers.get('content-type'),
      body: (await response.json()) as Record<string, any>,
    };
  };

  it('serves null watermark keys before the first successful run', async () => {
    const { status, body } = await getJson(integrationPath(12, 'Invoices'));
    expect(status).toBe(200);
    expect(body).toMatchObject({
      integrationName: 'Invoices',
      sourceSystemId: 12,
      maxSyncDateTime: null,
      maxSyncDateTimeUtc: null,
      maxSyncDateMaxPkId: null,
      customDatabaseValues: null,
      enabled: true,
      paused: false,
      lastRun: null,
      lastSucceededAt: null,
      consecutiveFailures: 0,
      schedule: { cron: NEVER, timeZone: 'UTC', misfirePolicy: 'fire_once_now' },
    });
  });

  for (const vector of vectors) {
    it(`serves exactly expected/${vector.replace(/\.xml$/, '.json')} after the upstream answers responses/${vector}`, async () => {
      const expected = expectedOf(vector);
      const key = {
        sourceSystemId: expected.sourceSystemId as number,
        integrationName: expected.integrationName as string,
      };
      simulator.script(key, { bodyFromVector: vector });
      const response = await post(`${integrationPath(key.sourceSystemId, key.integrationName)}/runs`);
      const run = (await response.json()) as Record<string, any>;
      expect(response.status).toBe(201);
      expect(run).toMatchObject({
        trigger: 'manual',
        outcome: 'succeeded',
        httpStatus: 200,
        errorCode: null,
        error: null,
        scheduledFor: null,
      });
      expect(run.watermarkAfter).toStrictEqual({
        maxSyncDateTime: expected.maxSyncDateTime,
        maxSyncDateTimeUtc: expected.maxSyncDateTimeUtc,
        maxSyncDateMaxPkId: expected.maxSyncDateMaxPkId,
      });
      const { body } = await getJson(integrationPath(key.sourceSystemId, key.integrationName));
      for (const [name, value] of Object.entries(expected)) expect([name, body[name]]).toStrictEqual([name, value]);
      expect(body.lastRun.id).toBe(run.id);
      expect(body.consecutiveFailures).toBe(0);
    });
  }

  it('records a failed run and keeps the stored watermark when the body is unusable', async () => {
    const key = IDENTITIES[2];
    simulator.script(key, { bodyFromVector: 'int64-ids.json' });
    expect((await post(`${integrationPath(12, 'Invoices')}/runs`)).status).toBe(201);
    const before = (await getJson(integrationPath(12, 'Invoices'))).body;

    const unusable = [
      {
        answer: { body: '<html><body>Sign in</body></html>', headers: { 'content-type': 'text/html' } },
        code: 'body_unreadable',
      },
      { answer: { body: 'null', headers: { 'content-type': 'application/json' } }, code: 'not_a_dto' },
      {
        answer: {
          body: '{"IntegrationName":"Invoices","SourceSystemId":12,"MaxSyncDateMax',
          headers: { 'content-type': 'application/json' },
        },
        code: 'body_unreadable',
      },
      {
        answer: {
          body: '{"IntegrationName":"Invoices","SourceSystemId":"12"}',
          headers: { 'content-type': 'application/json' },
        },
        code: 'not_a_dto',
      },
      {
        answer: {
          status: 500,
          body: '{"Message":"An error has occurred.","ExceptionMessage":"Timeout expired","ExceptionType":"System.Data.SqlClient.SqlException"}',
          headers: { 'content-type': 'application/json' },
        },
        code: 'http_status',
      },
      { answer: { bodyFromVector: 'seed-sample.json' }, code: 'identity_mismatch' },
    ];
    for (const { answer, code } of unusable) {
      simulator.script(key, answer);
      const response = await post(`${integrationPath(12, 'Invoices')}/runs`);
      const run = (await response.json()) as Record<string, any>;
      expect([response.status, run.outcome, run.errorCode, run.watermarkAfter]).toStrictEqual([
        201,
        'failed',
        code,
        null,
      ]);
      expect(run.error).toEqual(expect.any(String));
      expect(run.watermarkBefore).toStrictEqual({
        maxSyncDateTime: '2026-01-31T17:59:59.9999999-06:00',
        maxSyncDateTimeUtc: '2026-01-31T23:59:59.9999999Z',
        maxSyncDateMaxPkId: '9007199254740993',
      });
    }
    const after = (await getJson(integrationPath(12, 'Invoices'))).body;
    expect(after.consecutiveFailures).toBe(unusable.length);
    for (const key of Object.keys(expectedOf('int64-ids.json')))
      expect([key, after[key]]).toStrictEqual([key, before[key]]);
    const runs = (await getJson(`${integrationPath(12, 'Invoices')}/runs?limit=200`)).body;
    expect(runs.items.slice(0, unusable.length).map((r: any) => r.errorCode)).toStrictEqual(
      unusable.map((u) => u.code).reverse(),
    );
    const http500 = runs.items.find((r: any) => r.errorCode === 'http_status');
    expect(http500.httpStatus).toBe(500);
    expect(http500.error).toContain('Timeout expired');
  });

  it('serves names with spaces, slashes and non-ASCII letters, URL-encoded', async () => {
    const name = 'Tank Readings / Läger Ω';
    const run = await post(`${integrationPath(3, name)}/runs`);
    expect(run.status).toBe(201);
    const { status, body } = await getJson(integrationPath(3, name));
    expect([status, body.integrationName, body.sourceSystemId]).toStrictEqual([200, name, 3]);
    expect(body.maxSyncDateTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}\+00:00$/);
    const call = simulator.calls.at(-1)!;
    expect([call.sourceSystemId, call.integrationName]).toStrictEqual([3, name]);
  });

  it('lists integrations with a sourceSystemId filter and cursor paging', async () => {
    const first = await getJson('/integrations?limit=2');
    expect(first.status).toBe(200);
    expect(first.body.items.map((i: any) => [i.sourceSystemId, i.integrationName])).toStrictEqual([
      [2, 'sample string 1'],
      [3, 'Tank Readings / Läger Ω'],
    ]);
    const second = await getJson(`/integrations?limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body.items.map((i: any) => [i.sourceSystemId, i.integrationName])).toStrictEqual([
      [7, 'Orders'],
      [12, 'Invoices'],
    ]);
    expect(second.body.nextCursor).toBeNull();
    const filtered = await getJson('/integrations?sourceSystemId=7');
    expect(filtered.body.items.map((i: any) => i.integrationName)).toStrictEqual(['Orders']);
  });

  it('answers problem+json for bad input and unknown integrations, never 5xx', async () => {
    const cases: Array<[string, number, string?]> = [
      ['/integrations/99/Nope', 404],
      ['/integrations/abc/Orders', 400, 'sourceSystemId'],
      ['/integrations/-1/Orders', 400, 'sourceSystemId'],
      ['/integrations/2147483648/Orders', 400, 'sourceSystemId'],
      ['/integrations/1e3/Orders', 400, 'sourceSystemId'],
      [`/integrations/1/${'x'.repeat(257)}`, 400, 'integrationName'],
      ['/integrations/1/a%00b', 400, 'integrationName'],
      ['/integrations?limit=0', 400, 'limit'],
      ['/integrations?limit=201', 400, 'limit'],
      ['/integrations?limit=1.5', 400, 'limit'],
      ['/integrations?limit=1&limit=2', 400, 'limit'],
      ['/integrations?cursor=bogus', 400, 'cursor'],
      ['/integrations?cursor=eyJ4IjoxfQ', 400, 'cursor'],
      ['/integrations?sourceSystemId=x', 400, 'sourceSystemId'],
      ['/integrations?color=red', 400, 'color'],
      ['/integrations/7/Orders/runs?cursor=WyJpIiwxLCJhIl0', 400, 'cursor'],
      ['/nothing-here', 404],
    ];
    for (const [path, status, param] of cases) {
      const response = await fetch(app.url + path);
      const body = (await response.json()) as Record<string, any>;
      expect([path, response.status, response.headers.get('content-type')]).toStrictEqual([
        path,
        status,
        'application/problem+json; charset=utf-8',
      ]);
      expect(body.status).toBe(status);
      expect(body.title).toEqual(expect.any(String));
      if (param) expect([path, body['invalid-params'].map((p: any) => p.name)]).toStrictEqual([path, [param]]);
    }
  });

  it('answers 409 to a manual run while another run of the integration is going', async () => {
    simulator.script(IDENTITIES[1], { delayMs: 600 });
    const slow = post(`${integrationPath(7, 'Orders')}/runs`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const second = await post(`${integrationPath(7, 'Orders')}/runs`);
    const problem = (await second.json()) as Record<string, any>;
    expect([second.status, problem.status, problem.title]).toStrictEqual([409, 409, 'Run in progress']);
    expect((await slow).status).toBe(201);
    expect(simulator.callCount(IDENTITIES[1])).toBe(1);
  });

  it('serves the OpenAPI document and health', async () => {
    const docs = await getJson('/docs-json');
    expect(docs.status).toBe(200);
    expect(Object.keys(docs.body.paths).sort()).toStrictEqual([
      '/audit',
      '/events',
      '/health/live',
      '/health/ready',
      '/integrations',
      '/integrations/{sourceSystemId}/{integrationName}',
      '/integrations/{sourceSystemId}/{integrationName}/pause',
      '/integrations/{sourceSystemId}/{integrationName}/resume',
      '/integrations/{sourceSystemId}/{integrationName}/runs',
      '/integrations/{sourceSystemId}/{integrationName}/runs/{runId}',
      '/integrations/{sourceSystemId}/{integrationName}/schedule',
      '/integrations/{sourceSystemId}/{integrationName}/watermarks',
      '/me',
      '/metrics',
      '/overview',
      '/source-systems/{sourceSystemId}/pause',
      '/source-systems/{sourceSystemId}/resume',
      '/webhooks/{name}/deliveries',
      '/webhooks/{name}/deliveries/{id}/retry',
    ]);
    expect((await fetch(`${app.url}/docs`)).status).toBe(200);
    expect(await getJson('/health/live')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await getJson('/health/ready')).toMatchObject({ status: 200, body: { status: 'ok' } });
  });
});

import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nextFireTime } from '../../src/scheduler/cron-schedule';
import { eventually, integrationPath, NEVER } from '../support/app';
import { startStack, type Stack } from '../support/stack';

const READ_KEY = 'reader-key-Qw3rTy7uI9oP1aS2';
const OPERATE_KEY = 'operator-key-Zx8cVb6nM4lK2jH0';
const sha = (key: string) => `sha256:${createHash('sha256').update(key).digest('hex')}`;
const API_KEYS = JSON.stringify([
  { name: 'reader', keyHash: sha(READ_KEY), scopes: ['read'] },
  { name: 'alice', keyHash: sha(OPERATE_KEY), scopes: ['read', 'operate'] },
]);
/** Where a resumed NEVER integration's next fire time lands: the next 1 January. */
const nextNever = () => nextFireTime({ cron: NEVER, timeZone: 'UTC' }, new Date()).toISOString();
const INTEGRATIONS = [
  { sourceSystemId: 7, integrationName: 'Orders', cron: NEVER },
  { sourceSystemId: 7, integrationName: 'Invoices', cron: NEVER },
  { sourceSystemId: 9, integrationName: 'Prices', cron: '0 0 12 * * 1-5', timeZone: 'America/Chicago' },
];

/** Pause with a reason, bulk pause and resume, automatic resume and the audit trail, through the whole app. */
describe('operator actions and audit e2e', () => {
  let stack: Stack;
  const url = (path: string) => `${stack.app.url}${path}`;
  const post = (path: string, body?: unknown, key = OPERATE_KEY) =>
    fetch(url(path), {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const get = async (path: string, key = READ_KEY) => {
    const response = await fetch(url(path), { headers: { authorization: `Bearer ${key}` } });
    return { status: response.status, body: (await response.json()) as any };
  };

  beforeAll(async () => {
    stack = await startStack('opaudit', {
      INTEGRATIONS: JSON.stringify(INTEGRATIONS),
      API_KEYS,
      UPSTREAM_RETRY_MAX_ATTEMPTS: '1',
    });
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('refuses a pause without a reason, or with a blank one or a past end, naming the field', async () => {
    for (const [body, field] of [
      [undefined, 'reason'],
      [{}, 'reason'],
      [{ reason: '   ' }, 'reason'],
      [{ reason: 'x'.repeat(501) }, 'reason'],
      [{ reason: 'ok', until: 'tomorrow' }, 'until'],
      [{ reason: 'ok', until: '2020-01-01T00:00:00Z' }, 'until'],
      [{ reason: 'ok', extra: 1 }, 'extra'],
      // Names of inherited methods, which class-transformer would drop without a word.
      [{ reason: 'ok', toString: 1 }, 'toString'],
      [{ reason: 'ok', valueOf: 'x' }, 'valueOf'],
      [{ reason: 'ok', constructor: 1 }, 'constructor'],
    ] as Array<[unknown, string]>) {
      const response = await post(`${integrationPath(7, 'Orders')}/pause`, body);
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
      const problem = (await response.json()) as any;
      expect(problem['invalid-params'].map((p: any) => p.name)).toStrictEqual([field]);
    }
    expect((await get(integrationPath(7, 'Orders'))).body.paused).toBe(false);
    expect((await get('/audit')).body).toStrictEqual({ items: [], nextCursor: null });
  });

  it('pauses with a reason, records the actor, and resumes by itself when `until` passes', async () => {
    const until = new Date(Date.now() + 1_500).toISOString();
    const paused = await post(`${integrationPath(7, 'Orders')}/pause`, { reason: 'upstream maintenance', until });
    expect(paused.status).toBe(200);
    expect(((await paused.json()) as any).paused).toBe(true);
    const schedule = await get(`${integrationPath(7, 'Orders')}/schedule`);
    expect(schedule.body.pause).toStrictEqual({
      reason: 'upstream maintenance',
      pausedBy: 'alice',
      pausedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      until,
    });
    await eventually(async () => (await get(integrationPath(7, 'Orders'))).body.paused === false, 10_000);
    const trail = await get('/audit?sourceSystemId=7');
    expect(trail.body.items.map((e: any) => [e.actor, e.action, e.integrationName, e.reason])).toStrictEqual([
      ['system', 'resume', 'Orders', 'the pause ended'],
      ['alice', 'pause', 'Orders', 'upstream maintenance'],
    ]);
    const [resume, pause] = trail.body.items;
    expect(pause.before).toStrictEqual({ paused: false, reason: null, pausedBy: null, pausedAt: null, until: null });
    expect(pause.after).toStrictEqual({
      paused: true,
      reason: 'upstream maintenance',
      pausedBy: 'alice',
      pausedAt: schedule.body.pause.pausedAt,
      until,
    });
    expect(resume.before).toStrictEqual(pause.after);
    expect(resume.after).toStrictEqual({
      paused: false,
      reason: null,
      pausedBy: null,
      pausedAt: null,
      until: null,
      nextFireAt: nextNever(),
    });
  });

  it('pauses and resumes a whole source system, auditing each integration it changed', async () => {
    const pausedOne = await post(`${integrationPath(7, 'Invoices')}/pause`, { reason: 'first' });
    expect(pausedOne.status).toBe(200);
    const bulk = await post('/source-systems/7/pause', { reason: 'ERP cut-over' });
    expect(bulk.status).toBe(200);
    expect(await bulk.json()).toStrictEqual({
      sourceSystemId: 7,
      changed: [{ integrationName: 'Orders', paused: true, nextFireAt: null }],
    });
    expect((await get(integrationPath(9, 'Prices'))).body.paused).toBe(false);
    const resumed = await post('/source-systems/7/resume');
    expect(await resumed.json()).toStrictEqual({
      sourceSystemId: 7,
      changed: [
        { integrationName: 'Invoices', paused: false, nextFireAt: nextNever() },
        { integrationName: 'Orders', paused: false, nextFireAt: nextNever() },
      ],
    });
    const trail = await get('/audit?sourceSystemId=7&limit=4');
    expect(trail.body.items.map((e: any) => [e.actor, e.action, e.integrationName, e.reason])).toStrictEqual([
      ['alice', 'resume', 'Orders', null],
      ['alice', 'resume', 'Invoices', null],
      ['alice', 'pause', 'Orders', 'ERP cut-over'],
      ['alice', 'pause', 'Invoices', 'first'],
    ]);
    expect((await post('/source-systems/99/pause', { reason: 'x' })).status).toBe(404);
    expect((await post('/source-systems/7/pause', {})).status).toBe(400);
    expect((await post('/source-systems/7/pause', { reason: 'x' }, READ_KEY)).status).toBe(403);
  });

  it('audits a manual run with the watermark before and after, and pages the trail with cursors', async () => {
    const run = await post(`${integrationPath(9, 'Prices')}/runs`);
    expect(run.status).toBe(201);
    const finished = (await run.json()) as any;
    const first = await get('/audit?limit=1');
    expect(first.body.items[0]).toMatchObject({
      actor: 'alice',
      action: 'run',
      sourceSystemId: 9,
      integrationName: 'Prices',
      reason: null,
      before: { watermark: null },
    });
    expect(first.body.items[0].after).toStrictEqual({
      runId: finished.id,
      outcome: 'succeeded',
      errorCode: null,
      watermark: finished.watermarkAfter,
    });
    const pages: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await get(`/audit?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      pages.push(...page.body.items.map((e: any) => e.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(pages).toHaveLength(7);
    expect(pages).toStrictEqual([...pages].sort((a, b) => Number(b) - Number(a)));
    expect((await get('/audit?cursor=bm9wZQ')).status).toBe(400);
    expect((await get('/audit?integrationName=Orders')).body['invalid-params']).toStrictEqual([
      { name: 'integrationName', reason: 'needs sourceSystemId: an integration is named by both' },
    ]);
  });

  it('serves the schedule in words with the next five fire times in the zone, and who the caller is', async () => {
    const schedule = await get(`${integrationPath(9, 'Prices')}/schedule`);
    expect(schedule.body).toMatchObject({
      cron: '0 0 12 * * 1-5',
      description: 'At 12:00, Monday through Friday',
      timeZone: 'America/Chicago',
      misfirePolicy: 'fire_once_now',
      paused: false,
      pause: null,
    });
    const times: string[] = schedule.body.nextFireTimes;
    expect(times).toHaveLength(5);
    for (const time of times) {
      const local = new Intl.DateTimeFormat('en-US', {
        timeZone: 'America/Chicago',
        weekday: 'short',
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
        hourCycle: 'h23',
      }).format(new Date(time));
      expect(local).toMatch(/^(Mon|Tue|Wed|Thu|Fri) 12:00:00$/);
    }
    expect((await get('/me')).body).toStrictEqual({ name: 'reader', scopes: ['read'], authRequired: true });
    expect((await get('/me', OPERATE_KEY)).body).toStrictEqual({
      name: 'alice',
      scopes: ['read', 'operate'],
      authRequired: true,
    });
    expect((await fetch(url('/me'))).status).toBe(401);
  });

  it('asks caches to keep no answer unless it revalidates with an ETag', async () => {
    const cacheControl = async (path: string, key = READ_KEY) =>
      (await fetch(url(path), { headers: { authorization: `Bearer ${key}` } })).headers.get('cache-control');
    const answers: Array<[string, string | null]> = [];
    for (const path of ['/me', '/audit', `${integrationPath(7, 'Orders')}/watermarks`, '/integrations', '/nowhere']) {
      answers.push([path, await cacheControl(path)]);
    }
    answers.push(['/me without a key', (await fetch(url('/me'))).headers.get('cache-control')]);
    expect(answers).toStrictEqual([
      ['/me', 'no-store'],
      ['/audit', 'no-store'],
      [`${integrationPath(7, 'Orders')}/watermarks`, 'no-store'],
      ['/integrations', 'no-cache'],
      ['/nowhere', 'no-store'],
      ['/me without a key', 'no-store'],
    ]);
  });

  it('serves the dashboard page and its assets without a key, under a strict CSP', async () => {
    const page = await fetch(url('/'));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    );
    expect(await page.text()).toContain('<script type="module" src="/assets/app.mjs"></script>');
    const script = await fetch(url('/assets/app.mjs'));
    expect([script.status, script.headers.get('content-type')]).toStrictEqual([200, 'text/javascript; charset=utf-8']);
    expect((await fetch(url('/assets/app.css'))).status).toBe(200);
    // Every module app.mjs imports, however deep, is served like app.mjs itself: a browser refuses the whole page's
    // scripts when one import fails or comes with another type.
    const pending = ['app.mjs'];
    const modules = new Set<string>();
    for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
      if (modules.has(file)) continue;
      modules.add(file);
      const module = await fetch(url(`/assets/${file}`));
      const headers = ['content-type', 'content-security-policy', 'cache-control'].map((h) => module.headers.get(h));
      expect([file, module.status, ...headers]).toStrictEqual([
        file,
        200,
        'text/javascript; charset=utf-8',
        page.headers.get('content-security-policy'),
        'no-cache',
      ]);
      for (const [, imported] of (await module.text()).matchAll(/from '\.\/([\w-]+\.mjs)';/g)) pending.push(imported);
    }
    expect(modules.size).toBeGreaterThan(1);
    expect((await fetch(url('/assets/..%2Fdashboard-assets.controller.ts'))).status).toBe(404);
    // Outside the API document: query strings are the page's own; other methods are 405 with Allow; a missing
    // asset is a problem document.
    expect((await fetch(url('/?source=7&health=stale'))).status).toBe(200);
    for (const path of ['/', '/assets/app.mjs']) {
      const wrong = await fetch(url(path), { method: 'POST' });
      expect([path, wrong.status, wrong.headers.get('allow'), wrong.headers.get('content-type')]).toStrictEqual([
        path,
        405,
        'GET, HEAD',
        'application/problem+json; charset=utf-8',
      ]);
    }
    const missing = await fetch(url('/assets/missing.js'));
    expect([missing.status, missing.headers.get('content-type')]).toStrictEqual([
      404,
      'application/problem+json; charset=utf-8',
    ]);
    expect(await missing.json()).toMatchObject({
      type: 'https://tidemark.dev/problems/not-found',
      detail: 'no dashboard asset "missing.js"',
    });
  });
});

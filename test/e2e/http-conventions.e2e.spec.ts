import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { checkedResponses } from '../support/contract';
import { integrationPath, NEVER, type RunningApp } from '../support/app';
import { startStack, type Stack } from '../support/stack';

const PROBLEM = 'application/problem+json; charset=utf-8';
const ORDERS = { sourceSystemId: 7, integrationName: 'Orders' };
const OTHER = { sourceSystemId: 12, integrationName: 'Invoices' };

describe('HTTP conventions', () => {
  let stack: Stack;
  let app: RunningApp;

  beforeAll(async () => {
    stack = await startStack('conventions', {
      UPSTREAM_RETRY_BASE_MS: '10',
      INTEGRATIONS: JSON.stringify([ORDERS, OTHER].map((i) => ({ ...i, cron: NEVER }))),
    });
    app = stack.app;
  });
  afterAll(() => stack?.close());
  beforeEach(() => stack.simulator.reset());

  const orders = integrationPath(7, 'Orders');

  it('accepts an empty body sent as JSON on the action POSTs, and answers 201 with Location to a trigger', async () => {
    const headers = { 'content-type': 'application/json' };
    const run = await fetch(`${app.url}${orders}/runs`, { method: 'POST', headers, body: '' });
    const body = (await run.json()) as Record<string, any>;
    expect([run.status, body.outcome]).toStrictEqual([201, 'succeeded']);
    expect(run.headers.get('location')).toBe(`${orders}/runs/${body.id}`);
    const fetched = await fetch(app.url + run.headers.get('location'));
    expect([fetched.status, await fetched.json()]).toStrictEqual([200, body]);
    // A pause needs a reason, so only the resume goes without a body.
    for (const action of ['pause', 'resume']) {
      const body = action === 'pause' ? JSON.stringify({ reason: 'upstream maintenance' }) : '';
      const response = await fetch(`${app.url}${orders}/${action}`, { method: 'POST', headers, body });
      expect([action, response.status, ((await response.json()) as any).paused]).toStrictEqual([
        action,
        200,
        action === 'pause',
      ]);
    }
    // A run of another integration is not found under this one.
    const foreign = await fetch(`${app.url}${integrationPath(12, 'Invoices')}/runs/${body.id}`);
    expect([foreign.status, foreign.headers.get('content-type')]).toStrictEqual([404, PROBLEM]);
    expect(await foreign.json()).toMatchObject({
      type: 'https://tidemark.dev/problems/not-found',
      title: 'Not Found',
      status: 404,
    });
  });

  it('refuses a body sent as text/plain or as a form with 415, before it is read', async () => {
    for (const [type, body] of [
      ['text/plain', JSON.stringify({ reason: 'upstream maintenance' })],
      ['application/x-www-form-urlencoded', 'reason=upstream%20maintenance'],
    ]) {
      const response = await fetch(`${app.url}${orders}/pause`, {
        method: 'POST',
        headers: { 'content-type': type },
        body,
      });
      expect([type, response.status, response.headers.get('content-type')]).toStrictEqual([type, 415, PROBLEM]);
      expect(await response.json()).toMatchObject({
        type: 'https://tidemark.dev/problems/unsupported-media-type',
        title: 'Unsupported Media Type',
        status: 415,
        detail: 'content-type: must be application/json (every request body is JSON)',
      });
    }
    const state = (await (await fetch(app.url + orders)).json()) as { paused: boolean };
    expect(state.paused).toBe(false);
  });

  it('refuses a body that is not JSON, names __proto__ or constructor.prototype, or repeats a key, saying which', async () => {
    for (const [body, detail] of [
      ['{"reason":', 'body: must be valid JSON (Unexpected end of JSON input)'],
      [
        '{"reason":"x","until":"2030-01-01T00:00:00Z","until":null}',
        'body: the key "until" appears twice in one object (the names within an object must be unique, as RFC 8259 §4 advises)',
      ],
      [
        '{"reason":"x","__proto__":{"paused":true}}',
        'body: must not have a key named __proto__, nor constructor.prototype',
      ],
      [
        '{"reason":"x","constructor":{"prototype":{}}}',
        'body: must not have a key named __proto__, nor constructor.prototype',
      ],
    ]) {
      const response = await fetch(`${app.url}${orders}/pause`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect([body, response.status, response.headers.get('content-type'), await response.json()]).toStrictEqual([
        body,
        400,
        PROBLEM,
        {
          type: 'https://tidemark.dev/problems/bad-request',
          title: 'Bad Request',
          status: 400,
          detail,
          instance: orders + '/pause',
        },
      ]);
    }
    const state = (await (await fetch(app.url + orders)).json()) as { paused: boolean };
    expect(state.paused).toBe(false);
  });

  it('refuses a body that is not an object, and any field on the actions that take none, naming them', async () => {
    const notObject = [{ name: 'body', reason: 'must be a JSON object' }];
    const unknown = (...names: string[]) => names.map((name) => ({ name, reason: 'is not a known parameter' }));
    const runsTag = async () => (await fetch(`${app.url}${orders}/runs`)).headers.get('etag');
    const tagBefore = await runsTag();
    for (const [path, body, invalid] of [
      [`${orders}/pause`, '[1]', notObject],
      [`${orders}/pause`, '"upstream maintenance"', notObject],
      [`${orders}/pause`, 'null', notObject],
      [`${orders}/resume`, '[]', notObject],
      [`${orders}/resume`, '{"reason":"back from maintenance"}', unknown('reason')],
      [`${orders}/runs`, '{"x":1,"y":2}', unknown('x', 'y')],
      ['/source-systems/7/resume', '{"bogus":1}', unknown('bogus')],
    ] as const) {
      const response = await fetch(app.url + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect([path, body, response.status, response.headers.get('content-type')]).toStrictEqual([
        path,
        body,
        400,
        PROBLEM,
      ]);
      expect([path, body, ((await response.json()) as any)['invalid-params']]).toStrictEqual([path, body, invalid]);
    }
    // Nothing was done: no run started, and `{}` is still an empty body.
    expect(await runsTag()).toBe(tagBefore);
    const resumed = await fetch(`${app.url}${orders}/resume`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect([resumed.status, ((await resumed.json()) as any).paused]).toStrictEqual([200, false]);
  });

  it('refuses a compressed body or another charset with 415, and bytes that are not UTF-8 with 400', async () => {
    for (const [headers, body, status, detail] of [
      [
        { 'content-encoding': 'gzip' },
        gzipSync('{"reason":"x"}'),
        415,
        'content-encoding: must be absent or identity (request bodies are read as sent)',
      ],
      [
        { 'content-type': 'application/json; charset=utf-16le' },
        Buffer.from('{"reason":"x"}', 'utf16le'),
        415,
        'content-type: charset must be utf-8 (JSON is UTF-8)',
      ],
      [
        {},
        Buffer.from([...Buffer.from('{"reason":"caf'), 0xe9, ...Buffer.from('"}')]),
        400,
        'body: must be UTF-8 text',
      ],
    ] as Array<[Record<string, string>, Buffer, number, string]>) {
      const response = await fetch(`${app.url}${orders}/pause`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      });
      const problem = (await response.json()) as { status: number; detail: string };
      expect([response.status, problem.status, problem.detail]).toStrictEqual([status, status, detail]);
    }
    const state = (await (await fetch(app.url + orders)).json()) as { paused: boolean };
    expect(state.paused).toBe(false);
  });

  it('refuses a pause reason that Postgres could not store as sent, naming the field', async () => {
    const rule =
      'must be a text of 1 to 500 characters, not only spaces, without control characters other than tabs and line breaks';
    for (const reason of ['a\u0000b', 'a\ud800b', 'bell\u0007']) {
      const response = await fetch(`${app.url}${orders}/pause`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ reason }),
      });
      expect([response.status, ((await response.json()) as Record<string, unknown>)['invalid-params']]).toStrictEqual([
        400,
        [{ name: 'reason', reason: rule }],
      ]);
    }
    const accepted = await fetch(`${app.url}${orders}/pause`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'line one\n\tline two' }),
    });
    expect([accepted.status, ((await accepted.json()) as { paused: unknown }).paused]).toStrictEqual([200, true]);
    const schedule = (await (await fetch(`${app.url}${orders}/schedule`)).json()) as { pause: { reason: string } };
    expect(schedule.pause.reason).toBe('line one\n\tline two');
    await fetch(`${app.url}${orders}/resume`, { method: 'POST' });
  });

  it('refuses a pause end that names no real instant, instead of rolling it over', async () => {
    const rule = 'must be an RFC 3339 date-time with a zone (e.g. 2026-01-31T18:00:00Z), in the future';
    for (const until of [
      '2030-02-30T00:00:00Z',
      '2030-13-01T00:00:00Z',
      '2030-01-01T24:00:00Z',
      '2030-01-01T10:60Z',
      '2030-02-30t00:00:00z',
    ]) {
      const response = await fetch(`${app.url}${orders}/pause`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ reason: 'maintenance', until }),
      });
      expect([
        until,
        response.status,
        ((await response.json()) as Record<string, unknown>)['invalid-params'],
      ]).toStrictEqual([until, 400, [{ name: 'until', reason: rule }]]);
    }
    const leapDay = await fetch(`${app.url}${orders}/pause`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'maintenance', until: '2032-02-29T23:59:59+05:30' }),
    });
    expect(leapDay.status).toBe(200);
    const schedule = (await (await fetch(`${app.url}${orders}/schedule`)).json()) as { pause: { until: string } };
    expect(schedule.pause.until).toBe('2032-02-29T18:29:59.000Z');
    await fetch(`${app.url}${orders}/resume`, { method: 'POST' });
    // RFC 3339 allows a lower-case T and Z.
    const lowerCase = await fetch(`${app.url}${orders}/pause`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'maintenance', until: '2032-01-01t00:00:00z' }),
    });
    const paused = (await (await fetch(`${app.url}${orders}/schedule`)).json()) as { pause: { until: string } };
    expect([lowerCase.status, paused.pause.until]).toStrictEqual([200, '2032-01-01T00:00:00.000Z']);
    // null is no end, as leaving it out is.
    const openEnded = await fetch(`${app.url}${orders}/pause`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'maintenance', until: null }),
    });
    const pause = ((await (await fetch(`${app.url}${orders}/schedule`)).json()) as { pause: { until: unknown } }).pause;
    expect([openEnded.status, pause.until]).toStrictEqual([200, null]);
    await fetch(`${app.url}${orders}/resume`, { method: 'POST' });
  });

  it('gives a URL the router refuses the same fixed headers and request id as every other answer', async () => {
    const headersOf = (response: Response) =>
      Object.fromEntries([...response.headers].filter(([name]) => !['date', 'content-length'].includes(name)));
    const refused = await fetch(`${app.url}/integrations/7/%FF`, { headers: { 'x-request-id': 'probe-17' } });
    const invalid = await fetch(`${app.url}/integrations?limt=5`, { headers: { 'x-request-id': 'probe-17' } });
    expect([refused.status, invalid.status]).toStrictEqual([400, 400]);
    expect(headersOf(refused)).toStrictEqual(headersOf(invalid));
    expect(refused.headers.get('x-request-id')).toBe('probe-17');
    expect(refused.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('answers a wrong method 405 with Allow, and OPTIONS outside a preflight alike', async () => {
    for (const [method, path, allow] of [
      ['DELETE', orders, 'GET, HEAD'],
      ['GET', `${orders}/pause`, 'POST'],
      ['PUT', `${orders}/runs`, 'GET, HEAD, POST'],
      ['POST', '/health/live', 'GET, HEAD'],
      ['OPTIONS', '/integrations', 'GET, HEAD'],
    ] as const) {
      const response = await fetch(app.url + path, { method });
      expect([
        method,
        path,
        response.status,
        response.headers.get('allow'),
        response.headers.get('content-type'),
      ]).toStrictEqual([method, path, 405, allow, PROBLEM]);
      expect(await response.json()).toMatchObject({
        type: 'https://tidemark.dev/problems/method-not-allowed',
        title: 'Method Not Allowed',
        status: 405,
      });
    }
    const unknown = await fetch(`${app.url}/nothing-here`, { method: 'DELETE' });
    expect([unknown.status, unknown.headers.get('allow')]).toStrictEqual([404, null]);
    // A route that does not exist and a resource that does not exist are one problem type, with one title.
    expect(await unknown.json()).toStrictEqual({
      type: 'https://tidemark.dev/problems/not-found',
      title: 'Not Found',
      status: 404,
      detail: "No resource answers DELETE at this path; the API's paths are listed at /docs.",
      instance: '/nothing-here',
    });
  });

  it('refuses a query parameter given twice, naming it and saying so', async () => {
    for (const query of ['limit=1&limit=2', 'sourceSystemId=1&sourceSystemId=2']) {
      const response = await fetch(`${app.url}/integrations?${query}`);
      expect([
        query,
        response.status,
        ((await response.json()) as Record<string, unknown>)['invalid-params'],
      ]).toStrictEqual([query, 400, [{ name: query.split('=')[0], reason: 'must be given once' }]]);
    }
  });

  it('names every bad query parameter in one answer: unknown, repeated and invalid alike', async () => {
    for (const path of ['/integrations', '/audit']) {
      const response = await fetch(`${app.url}${path}?foo=1&limit=0&sourceSystemId=x&cursor=a&cursor=b`);
      expect([path, response.status, response.headers.get('content-type')]).toStrictEqual([path, 400, PROBLEM]);
      expect([path, ((await response.json()) as any)['invalid-params']]).toStrictEqual([
        path,
        [
          { name: 'cursor', reason: 'must be given once' },
          { name: 'foo', reason: 'is not a known parameter' },
          { name: 'sourceSystemId', reason: 'must be an integer from 0 to 2147483647' },
          { name: 'limit', reason: 'must be an integer from 1 to 200' },
        ],
      ]);
    }
  });

  it('refuses unknown query parameters on every GET, naming them', async () => {
    for (const path of [
      `/integrations?limt=5`,
      `${orders}?limt=5`,
      `${orders}/runs?limt=5`,
      `${orders}/runs/1?limt=5`,
      `/health/live?limt=5`,
      `/health/ready?limt=5`,
      `/metrics?limt=5`,
    ]) {
      const response = await fetch(app.url + path);
      expect([path, response.status, response.headers.get('content-type')]).toStrictEqual([path, 400, PROBLEM]);
      expect([path, ((await response.json()) as any)['invalid-params']]).toStrictEqual([
        path,
        [{ name: 'limt', reason: 'is not a known parameter' }],
      ]);
    }
  });

  it('serves the runs list with a strong ETag, and 304 to If-None-Match', async () => {
    await fetch(`${app.url}${orders}/runs`, { method: 'POST' });
    const first = await fetch(`${app.url}${orders}/runs?limit=5`);
    const etag = first.headers.get('etag')!;
    expect([first.status, etag]).toStrictEqual([200, expect.stringMatching(/^"r[A-Za-z0-9_-]+"$/)]);
    const again = await fetch(`${app.url}${orders}/runs?limit=5`, { headers: { 'if-none-match': etag } });
    expect([again.status, again.headers.get('etag'), await again.text()]).toStrictEqual([304, etag, '']);
    await fetch(`${app.url}${orders}/runs`, { method: 'POST' });
    const changed = await fetch(`${app.url}${orders}/runs?limit=5`, { headers: { 'if-none-match': etag } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
  });

  it('answers 409 with Retry-After to a trigger while a run of the integration is going', async () => {
    stack.simulator.script(ORDERS, { delayMs: 1_000 });
    const slow = fetch(`${app.url}${orders}/runs`, { method: 'POST' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const busy = await fetch(`${app.url}${orders}/runs`, { method: 'POST' });
    expect([busy.status, busy.headers.get('retry-after'), busy.headers.get('content-type')]).toStrictEqual([
      409,
      '5',
      PROBLEM,
    ]);
    expect(((await busy.json()) as any).type).toBe('https://tidemark.dev/problems/run-in-progress');
    expect((await slow).status).toBe(201);
  });

  it('checked every response of this file against the OpenAPI document', () => {
    expect(checkedResponses()).toBeGreaterThanOrEqual(25);
  });
});

import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpstreamSimulator } from '../../src/demo/simulator';
import { eventually, integrationPath, NEVER, startApp, type RunningApp } from '../support/app';
import { createTestDatabase, type TestDatabase } from '../support/database';

const READ_KEY = 'reader-key-7aYc1Yw0m2gkZ1pQ';
const OPERATE_KEY = 'operator-key-Jc3x7cSgS0nq4PL2';
const sha = (key: string) => `sha256:${createHash('sha256').update(key).digest('hex')}`;
const API_KEYS = JSON.stringify([
  { name: 'reader', keyHash: sha(READ_KEY), scopes: ['read'] },
  { name: 'operator', keyHash: sha(OPERATE_KEY), scopes: ['read', 'operate'] },
]);
const INVOICES = { sourceSystemId: 12, integrationName: 'Invoices' };
const ORDERS = { sourceSystemId: 7, integrationName: 'Orders' };
/** maxSyncDateTimeUtc of responses/int64-ids.json, floored to µs as stored. */
const INT64_WATERMARK_MS = Date.parse('2026-01-31T23:59:59.999Z') + 0.999;

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/** The value of one exact series in a Prometheus text exposition, or undefined. */
function sample(exposition: string, series: string): number | undefined {
  const line = exposition.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('operations e2e: metrics, access control, health', () => {
  const databases: TestDatabase[] = [];
  const apps: RunningApp[] = [];
  let simulator: UpstreamSimulator;
  let upstream: string;

  async function launch(env: Record<string, string>): Promise<RunningApp> {
    const db = await createTestDatabase('ops');
    databases.push(db);
    const app = await startApp({
      DATABASE_URL: db.url,
      UPSTREAM_BASE_URL: upstream,
      UPSTREAM_TIMEOUT_MS: '5000',
      UPSTREAM_RETRY_MAX_ATTEMPTS: '1',
      INTEGRATIONS: JSON.stringify([INVOICES, ORDERS].map((i) => ({ ...i, cron: NEVER }))),
      API_KEYS,
      ...env,
    });
    apps.push(app);
    return app;
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

  describe('with API keys', () => {
    let app: RunningApp;
    beforeAll(async () => {
      app = await launch({});
    });

    it('serves exact per-integration series on /metrics after scripted runs, read from Postgres', async () => {
      const testStartedS = Date.now() / 1000;
      // A generated answer (watermark: now), then the int64 vector twice (January: one regression, then equal),
      // then a 500.
      simulator.script(
        INVOICES,
        {},
        { bodyFromVector: 'int64-ids.json' },
        { bodyFromVector: 'int64-ids.json' },
        { status: 500 },
      );
      const outcomes: string[] = [];
      for (let i = 0; i < 4; i++) {
        const response = await fetch(`${app.url}${integrationPath(12, 'Invoices')}/runs`, {
          method: 'POST',
          headers: bearer(OPERATE_KEY),
        });
        expect(response.status).toBe(201);
        outcomes.push(((await response.json()) as { outcome: string }).outcome);
      }
      expect(outcomes).toStrictEqual(['succeeded', 'succeeded', 'succeeded', 'failed']);

      const before = Date.now();
      const response = await fetch(`${app.url}/metrics`);
      const after = Date.now();
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      const text = await response.text();
      const labels = 'source_system_id="12",integration_name="Invoices"';
      expect(text).toContain(`tidemark_runs_total{${labels},trigger="manual",outcome="succeeded"} 3\n`);
      expect(text).toContain(`tidemark_runs_total{${labels},trigger="manual",outcome="failed"} 1\n`);
      expect(text).toContain('tidemark_run_duration_seconds_count{trigger="manual",outcome="succeeded"} 3\n');
      expect(text).toContain('tidemark_run_duration_seconds_count{trigger="manual",outcome="failed"} 1\n');
      expect(text).toContain('tidemark_upstream_request_duration_seconds_count{status="200"} 3\n');
      expect(text).toContain('tidemark_upstream_request_duration_seconds_count{status="500"} 1\n');
      expect(text).toContain(`tidemark_consecutive_failures{${labels}} 1\n`);
      expect(text).toContain(`tidemark_watermark_regressions_total{${labels}} 1\n`);
      expect(text).toContain(`tidemark_integration_paused{${labels}} 0\n`);
      // This replica's breaker for the upstream: one failure is below UPSTREAM_BREAKER_THRESHOLD, so closed.
      const breaker = `tidemark_upstream_breaker_state{upstream="${upstream.replace(/\/$/, '')}"`;
      expect([
        sample(text, `${breaker},state="closed"}`),
        sample(text, `${breaker},state="open"}`),
        sample(text, `${breaker},state="half_open"}`),
      ]).toStrictEqual([1, 0, 0]);
      expect(text).toContain('tidemark_state_read_success 1\n');
      // Orders never ran: zero failures, no watermark and no success yet (absent, not 0).
      expect(text).toContain('tidemark_consecutive_failures{source_system_id="7",integration_name="Orders"} 0\n');
      expect(text).toContain(
        'tidemark_watermark_regressions_total{source_system_id="7",integration_name="Orders"} 0\n',
      );
      expect(text).not.toContain('tidemark_watermark_lag_seconds{source_system_id="7"');
      expect(text).not.toContain('tidemark_last_success_timestamp_seconds{source_system_id="7"');

      const lag = sample(text, `tidemark_watermark_lag_seconds{${labels}}`)!;
      expect(lag).toBeGreaterThanOrEqual((before - INT64_WATERMARK_MS) / 1000 - 1);
      expect(lag).toBeLessThanOrEqual((after - INT64_WATERMARK_MS) / 1000 + 1);
      const lastSuccess = sample(text, `tidemark_last_success_timestamp_seconds{${labels}}`)!;
      expect(lastSuccess).toBeGreaterThanOrEqual(testStartedS - 1);
      expect(lastSuccess).toBeLessThanOrEqual(after / 1000 + 1);

      // Default process and Node.js metrics.
      for (const name of [
        'process_cpu_seconds_total',
        'process_resident_memory_bytes',
        'nodejs_eventloop_lag_seconds',
        'nodejs_heap_size_used_bytes',
      ]) {
        expect(text).toMatch(new RegExp(`^${name} `, 'm'));
      }
    });

    it('answers 401 problem+json with WWW-Authenticate for a missing or unknown key', async () => {
      for (const [headers, challenge] of [
        [{}, 'Bearer realm="tidemark"'],
        [bearer('not-a-key'), 'Bearer realm="tidemark", error="invalid_token"'],
        [{ 'x-api-key': 'not-a-key' }, 'Bearer realm="tidemark", error="invalid_token"'],
        // Credentials in another scheme are not in the form asked for (RFC 6750 §3.1).
        [
          { authorization: `Basic ${Buffer.from(`x:${READ_KEY}`).toString('base64')}` },
          'Bearer realm="tidemark", error="invalid_request"',
        ],
      ] as const) {
        const response = await fetch(`${app.url}/integrations`, { headers });
        expect(response.status).toBe(401);
        expect(response.headers.get('www-authenticate')).toBe(challenge);
        expect(response.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
        expect(await response.json()).toMatchObject({
          type: 'https://tidemark.dev/problems/unauthorized',
          title: 'Unauthorized',
          status: 401,
          instance: '/integrations',
        });
      }
    });

    it('lets a read key GET (Bearer or X-API-Key) and answers 403 to its trigger, pause and resume', async () => {
      expect((await fetch(`${app.url}/integrations`, { headers: bearer(READ_KEY) })).status).toBe(200);
      expect(
        (await fetch(`${app.url}${integrationPath(7, 'Orders')}`, { headers: { 'x-api-key': READ_KEY } })).status,
      ).toBe(200);
      for (const action of ['runs', 'pause', 'resume']) {
        const response = await fetch(`${app.url}${integrationPath(7, 'Orders')}/${action}`, {
          method: 'POST',
          headers: bearer(READ_KEY),
        });
        expect([action, response.status]).toStrictEqual([action, 403]);
        expect(response.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
        expect(await response.json()).toMatchObject({ type: 'https://tidemark.dev/problems/forbidden', status: 403 });
      }
      expect(simulator.callCount(ORDERS)).toBe(0);
      const paused = await fetch(`${app.url}${integrationPath(7, 'Orders')}/pause`, {
        method: 'POST',
        headers: { 'x-api-key': OPERATE_KEY, 'content-type': 'application/json' },
        body: JSON.stringify({ reason: 'maintenance' }),
      });
      expect(paused.status).toBe(200);
      expect(
        (
          await fetch(`${app.url}${integrationPath(7, 'Orders')}/resume`, {
            method: 'POST',
            headers: bearer(OPERATE_KEY),
          })
        ).status,
      ).toBe(200);
    });

    it('keeps health, metrics and docs open without a key by default', async () => {
      for (const path of ['/health/live', '/health/ready', '/metrics', '/docs', '/docs-json']) {
        expect([path, (await fetch(app.url + path)).status]).toStrictEqual([path, 200]);
      }
    });

    it('echoes a sane X-Request-Id and replaces any other by a UUID', async () => {
      const given = await fetch(`${app.url}/health/live`, { headers: { 'x-request-id': 'trace-42.a_b:c' } });
      expect(given.headers.get('x-request-id')).toBe('trace-42.a_b:c');
      for (const bad of ['has space', 'x'.repeat(129), 'semi;colon']) {
        const response = await fetch(`${app.url}/health/live`, { headers: { 'x-request-id': bad } });
        expect(response.headers.get('x-request-id')).toMatch(
          /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
        );
      }
      const problem = await fetch(`${app.url}/integrations`, { headers: { 'x-request-id': 'req-401' } });
      expect([problem.status, problem.headers.get('x-request-id')]).toStrictEqual([401, 'req-401']);
    });

    it("sends the API security headers on JSON answers, helmet's full set on the Swagger UI, and no CORS headers when CORS_ORIGINS is unset", async () => {
      const api = {
        'content-security-policy': "default-src 'none';frame-ancestors 'none'",
        'cross-origin-opener-policy': null,
        'cross-origin-resource-policy': 'same-origin',
        'origin-agent-cluster': null,
        'referrer-policy': 'no-referrer',
        'strict-transport-security': 'max-age=31536000; includeSubDomains',
        'x-content-type-options': 'nosniff',
        'x-dns-prefetch-control': null,
        'x-download-options': null,
        'x-frame-options': 'DENY',
        'x-permitted-cross-domain-policies': null,
        'x-ratelimit-limit': null,
        'x-ratelimit-remaining': null,
        'x-ratelimit-reset': null,
        'x-xss-protection': null,
      };
      const docs = {
        'content-security-policy':
          "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'none';img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' 'unsafe-inline';connect-src 'self'",
        'cross-origin-opener-policy': 'same-origin',
        'cross-origin-resource-policy': 'same-origin',
        'origin-agent-cluster': '?1',
        'referrer-policy': 'no-referrer',
        'strict-transport-security': 'max-age=31536000; includeSubDomains',
        'x-content-type-options': 'nosniff',
        'x-dns-prefetch-control': 'off',
        'x-download-options': 'noopen',
        'x-frame-options': 'SAMEORIGIN',
        'x-permitted-cross-domain-policies': 'none',
        'x-ratelimit-limit': null,
        'x-ratelimit-remaining': null,
        'x-ratelimit-reset': null,
        'x-xss-protection': '0',
      };
      const pick = (response: Response) =>
        Object.fromEntries(Object.keys(api).map((name) => [name, response.headers.get(name)]));
      const origin = { origin: 'https://elsewhere.example' };
      for (const [path, headers] of [
        ['/integrations', { ...bearer(READ_KEY), ...origin }],
        [integrationPath(7, 'Orders'), bearer(READ_KEY)],
        ['/integrations', origin],
        ['/integrations/7/Nope', bearer(READ_KEY)],
        ['/health/live', origin],
        ['/docs-json', origin],
      ] as const) {
        const response = await fetch(app.url + path, { headers });
        expect([path, pick(response)]).toStrictEqual([path, api]);
        expect([path, response.headers.get('access-control-allow-origin')]).toStrictEqual([path, null]);
      }
      for (const path of ['/docs', '/docs/swagger-ui-init.js', '/docs/swagger-ui.css']) {
        const response = await fetch(app.url + path);
        expect([path, response.status, pick(response)]).toStrictEqual([path, 200, docs]);
      }
      const redirect = await fetch(`${app.url}/docs/`, { redirect: 'manual' });
      expect([redirect.status, pick(redirect)]).toStrictEqual([301, docs]);
    });

    it('redirects the Swagger UI page under /docs/ to /docs, whose relative asset URLs resolve', async () => {
      const answers: Array<[string, number, string | null]> = [];
      for (const path of ['/docs/', '/docs/index.html', '/docs/?tag=health', '/%64ocs/']) {
        const response = await fetch(app.url + path, { redirect: 'manual' });
        answers.push([path, response.status, response.headers.get('location')]);
      }
      expect(answers).toStrictEqual([
        ['/docs/', 301, '/docs'],
        ['/docs/index.html', 301, '/docs'],
        ['/docs/?tag=health', 301, '/docs?tag=health'],
        ['/%64ocs/', 301, '/docs'],
      ]);
      const page = await (await fetch(`${app.url}/docs`)).text();
      const assets = [...page.matchAll(/(?:href|src)="\.\/([^"]+)"/g)].map((m) => m[1]);
      expect(assets).toStrictEqual([
        'docs/swagger-ui.css',
        'docs/favicon-32x32.png',
        'docs/favicon-16x16.png',
        'docs/swagger-ui-bundle.js',
        'docs/swagger-ui-standalone-preset.js',
        'docs/swagger-ui-init.js',
      ]);
      for (const asset of assets) {
        expect([asset, (await fetch(`${app.url}/${asset}`)).status]).toStrictEqual([asset, 200]);
      }
    });

    it('declares the bearer and X-API-Key security schemes in the OpenAPI document', async () => {
      const document = (await (await fetch(`${app.url}/docs-json`)).json()) as Record<string, any>;
      expect(document.components.securitySchemes).toMatchObject({
        bearer: { type: 'http', scheme: 'bearer' },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      });
      const trigger = document.paths['/integrations/{sourceSystemId}/{integrationName}/runs'].post;
      // Either scheme will do (OpenAPI "or").
      expect(trigger.security).toHaveLength(2);
      expect(trigger.security).toEqual(expect.arrayContaining([{ bearer: [] }, { apiKey: [] }]));
      expect(Object.keys(trigger.responses)).toEqual(expect.arrayContaining(['401', '403', '429']));
      expect(document.paths['/health/ready'].get.security).toStrictEqual([]);
      expect(document.paths['/metrics'].get.security).toStrictEqual([]);
    });
  });

  it('answers 429 with Retry-After past RATE_LIMIT_PER_MINUTE, per key', async () => {
    const app = await launch({ RATE_LIMIT_PER_MINUTE: '3' });
    // The first answer comes from Nest, the next two from the cached read path; both count, and neither sends
    // X-RateLimit-* headers.
    for (let i = 0; i < 3; i++) {
      const allowed = await fetch(`${app.url}/integrations`, { headers: bearer(READ_KEY) });
      expect([
        i,
        allowed.status,
        [...allowed.headers.keys()].filter((name) => name.startsWith('x-ratelimit')),
      ]).toStrictEqual([i, 200, []]);
    }
    const limited = await fetch(`${app.url}${integrationPath(12, 'Invoices')}`, { headers: { 'x-api-key': READ_KEY } });
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited.headers.get('content-type')).toBe('application/problem+json; charset=utf-8');
    expect(await limited.json()).toMatchObject({
      type: 'https://tidemark.dev/problems/rate-limited',
      title: 'Too Many Requests',
      status: 429,
    });
    // A cached URL is refused alike.
    const cached = await fetch(`${app.url}/integrations`, { headers: bearer(READ_KEY) });
    expect([cached.status, cached.headers.get('retry-after'), cached.headers.get('content-type')]).toStrictEqual([
      429,
      limited.headers.get('retry-after'),
      'application/problem+json; charset=utf-8',
    ]);
    // Another key has its own budget; probes are never limited.
    expect((await fetch(`${app.url}/integrations`, { headers: bearer(OPERATE_KEY) })).status).toBe(200);
    expect((await fetch(`${app.url}/health/ready`)).status).toBe(200);
  });

  it('puts /metrics and /docs behind a read key when METRICS_PUBLIC and DOCS_PUBLIC are false, and allows CORS_ORIGINS', async () => {
    const app = await launch({ METRICS_PUBLIC: 'false', DOCS_PUBLIC: 'false', CORS_ORIGINS: 'https://ops.example' });
    for (const path of ['/metrics', '/docs', '/docs-json']) {
      const anonymous = await fetch(app.url + path);
      expect([path, anonymous.status, anonymous.headers.get('content-type')]).toStrictEqual([
        path,
        401,
        'application/problem+json; charset=utf-8',
      ]);
      expect(anonymous.headers.get('www-authenticate')).toBe('Bearer realm="tidemark"');
      expect([path, (await fetch(app.url + path, { headers: bearer(READ_KEY) })).status]).toStrictEqual([path, 200]);
    }
    // The redirect of /docs/ is behind the key too.
    const anonymousSlash = await fetch(`${app.url}/docs/`, { redirect: 'manual' });
    const keyedSlash = await fetch(`${app.url}/docs/`, { redirect: 'manual', headers: bearer(READ_KEY) });
    expect([
      [anonymousSlash.status, anonymousSlash.headers.get('location')],
      [keyedSlash.status, keyedSlash.headers.get('location')],
    ]).toStrictEqual([
      [401, null],
      [301, '/docs'],
    ]);
    const preflight = await fetch(`${app.url}/integrations`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://ops.example',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization',
      },
    });
    expect(preflight.status).toBeLessThan(300);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://ops.example');
    const foreign = await fetch(`${app.url}/integrations`, {
      headers: { ...bearer(READ_KEY), origin: 'https://evil.example' },
    });
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    // The cached read path answers an allowed origin with the same CORS headers as Nest did.
    const cors = (response: Response) => [
      response.status,
      response.headers.get('access-control-allow-origin'),
      response.headers.get('access-control-expose-headers'),
      response.headers.get('vary'),
    ];
    const path = integrationPath(7, 'Orders');
    const viaNest = await fetch(app.url + path, { headers: { ...bearer(READ_KEY), origin: 'https://ops.example' } });
    const cached = await fetch(app.url + path, { headers: { ...bearer(READ_KEY), origin: 'https://ops.example' } });
    expect(cors(viaNest)).toStrictEqual([
      200,
      'https://ops.example',
      'X-Request-Id, Retry-After, WWW-Authenticate, ETag, Location, Allow',
      'Origin',
    ]);
    expect(cors(cached)).toStrictEqual(cors(viaNest));
    // Another origin gets no Allow-Origin on either path (@fastify/cors still lists the exposed headers).
    // The same integration under another spelling of its URL, which the cached read path has not seen.
    const nestForeign = await fetch(`${app.url}/integrations/7/%4Frders`, {
      headers: { ...bearer(READ_KEY), origin: 'https://evil.example' },
    });
    const cachedForeign = await fetch(app.url + path, {
      headers: { ...bearer(READ_KEY), origin: 'https://evil.example' },
    });
    expect(cors(nestForeign)).toStrictEqual([
      200,
      null,
      'X-Request-Id, Retry-After, WWW-Authenticate, ETag, Location, Allow',
      'Origin',
    ]);
    expect(cors(cachedForeign)).toStrictEqual(cors(nestForeign));
    // A URL the router refuses before any hook runs carries the same CORS headers.
    const refused = (origin: string) =>
      fetch(`${app.url}/integrations/7/%FF`, { headers: { ...bearer(READ_KEY), origin } });
    expect(cors(await refused('https://ops.example'))).toStrictEqual([400, ...cors(viaNest).slice(1)]);
    expect(cors(await refused('https://evil.example'))).toStrictEqual([400, ...cors(nestForeign).slice(1)]);
  });

  it('reports integrations older than STALE_AFTER_MS as degraded (200), and ok again after a success', async () => {
    // Long enough that a success is still fresh when the 2 s state cache has expired.
    const app = await launch({ STALE_AFTER_MS: '4000' });
    await new Promise((resolve) => setTimeout(resolve, 4_100));
    const degraded = await eventually(async () => {
      const response = await fetch(`${app.url}/health/ready`);
      const body = (await response.json()) as Record<string, any>;
      return body.status === 'degraded' ? { status: response.status, body } : null;
    });
    expect(degraded.status).toBe(200);
    expect(degraded.body.details.integrations.status).toBe('degraded');
    expect(
      degraded.body.details.integrations.stale.map((s: any) => [
        s.sourceSystemId,
        s.integrationName,
        s.lastSucceededAt,
        s.staleAfterMs,
      ]),
    ).toStrictEqual([
      [7, 'Orders', null, 4000],
      [12, 'Invoices', null, 4000],
    ]);
    for (const key of [INVOICES, ORDERS]) {
      const run = await fetch(`${app.url}${integrationPath(key.sourceSystemId, key.integrationName)}/runs`, {
        method: 'POST',
        headers: bearer(OPERATE_KEY),
      });
      expect(run.status).toBe(201);
    }
    // Past the 2 s state cache, the fresh successes count.
    const ok = await eventually(async () => {
      const body = (await (await fetch(`${app.url}/health/ready`)).json()) as Record<string, any>;
      return body.status === 'ok' ? body : null;
    });
    expect(ok.details).toMatchObject({
      database: { status: 'up' },
      scheduler: { status: 'up' },
      shutdown: { status: 'up' },
      integrations: { status: 'up' },
    });
  });

  it('turns readiness 503 while the replica drains a run at shutdown, and keeps serving the run to its end', async () => {
    const app = await launch({ SHUTDOWN_GRACE_MS: '10000' });
    expect((await fetch(`${app.url}/health/ready`)).status).toBe(200);
    simulator.script(ORDERS, { delayMs: 1_500 });
    const run = fetch(`${app.url}${integrationPath(7, 'Orders')}/runs`, {
      method: 'POST',
      headers: bearer(OPERATE_KEY),
    });
    await eventually(async () => simulator.inFlight(ORDERS) === 1);
    const closing = app.tidemark.close();
    const response = await eventually(async () => {
      const r = await fetch(`${app.url}/health/ready`);
      return r.status === 503 ? r : null;
    }, 1_000);
    const body = (await response.json()) as Record<string, any>;
    expect(body.status).toBe('error');
    expect(body.details.shutdown).toStrictEqual({ status: 'down', message: 'the replica is shutting down' });
    expect(body.details.database.status).toBe('up');
    // The run was still in flight when readiness turned, and it finishes normally.
    expect(simulator.inFlight(ORDERS)).toBe(1);
    const finished = await run;
    expect(finished.status).toBe(201);
    expect(((await finished.json()) as { outcome: string }).outcome).toBe('succeeded');
    await closing;
  });
});

import { createHash } from 'node:crypto';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StateCache } from '../../src/cache/state-cache';
import { UpstreamSimulator } from '../../src/demo/simulator';
import { NEVER, eventually, integrationPath, startApp, type RunningApp } from '../support/app';
import { createTestDatabase, type TestDatabase } from '../support/database';

const KEY = 'e2e-cache-key-0123456789';
const AUTH = { authorization: `Bearer ${KEY}` };
const NAMES = ['Orders', 'Invoices', 'Tank Readings / Läger Ω'];

/**
 * Two app instances on one database, each with its own state cache: what one commits, the other serves within 1 s
 * (LISTEN/NOTIFY, with a TTL while the notification connection is down), and reads carry strong ETags.
 */
/** The security headers of every JSON API answer (src/http/security-headers.ts). */
const API_SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none';frame-ancestors 'none'",
  'cross-origin-resource-policy': 'same-origin',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};
/** Every header of a cached read's 304, but Date and the request id. */
const notModifiedHeaders = (etag: string) => ({
  ...API_SECURITY_HEADERS,
  'cache-control': 'no-cache',
  connection: 'keep-alive',
  etag,
  'keep-alive': 'timeout=72',
});
/** Every header of a cached read's 200, but Date and the request id. */
const readHeaders = (etag: string, length: number) => ({
  ...notModifiedHeaders(etag),
  'content-length': String(length),
  'content-type': 'application/json; charset=utf-8',
});
/** A response's headers, sorted by name, without the two that differ on every response (Date, X-Request-Id). */
const headersOf = (response: Response) =>
  Object.fromEntries(
    [...response.headers]
      .filter(([name]) => name !== 'date' && name !== 'x-request-id')
      .sort(([x], [y]) => (x < y ? -1 : 1)),
  );

describe('state cache across replicas', () => {
  let db: TestDatabase;
  let simulator: UpstreamSimulator;
  let a: RunningApp;
  let b: RunningApp;

  beforeAll(async () => {
    db = await createTestDatabase('cache');
    simulator = new UpstreamSimulator();
    const upstream = await simulator.start();
    const env = {
      DATABASE_URL: db.url,
      UPSTREAM_BASE_URL: upstream,
      UPSTREAM_TIMEOUT_MS: '2000',
      LOG_LEVEL: 'warn',
      API_KEYS: JSON.stringify([
        {
          name: 'e2e',
          keyHash: `sha256:${createHash('sha256').update(KEY).digest('hex')}`,
          scopes: ['read', 'operate'],
        },
      ]),
      INTEGRATIONS: JSON.stringify(
        NAMES.map((integrationName, i) => ({ sourceSystemId: 40 + i, integrationName, cron: NEVER })),
      ),
    };
    a = await startApp({ ...env, REPLICA_ID: 'cache-a' });
    b = await startApp({ ...env, REPLICA_ID: 'cache-b' });
    await eventually(async () => a.tidemark.app.get(StateCache).listening && b.tidemark.app.get(StateCache).listening);
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await simulator?.stop();
    await db?.drop();
  });

  const get = (app: RunningApp, path: string, headers: Record<string, string> = {}) =>
    fetch(app.url + path, { headers: { ...AUTH, ...headers } });
  const state = async (app: RunningApp, path: string) =>
    (await (await get(app, path)).json()) as { lastRun: { id: string } | null };
  const runOn = async (app: RunningApp, path: string) => {
    const response = await fetch(`${app.url}${path}/runs`, { method: 'POST', headers: AUTH });
    expect(response.status).toBe(201);
    return (await response.json()) as { id: string; finishedAt: string };
  };

  /** Polls `app` until it serves `runId` as the last run; returns ms from the run's commit to then. */
  async function lagUntilServed(app: RunningApp, path: string, runId: string, finishedAt: string): Promise<number> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      if ((await state(app, path)).lastRun?.id === runId) return Date.now() - Date.parse(finishedAt);
      if (Date.now() > deadline) throw new Error(`run ${runId} not served within 5 s`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  it('a run committed on one instance is served by the other within 1 s, both ways', async () => {
    for (let i = 0; i < 6; i++) {
      const path = integrationPath(40 + (i % 3), NAMES[i % 3]);
      const [writer, reader] = i % 2 === 0 ? [a, b] : [b, a];
      // Both caches hold the state before the run.
      for (let k = 0; k < 3; k++) await Promise.all([state(a, path), state(b, path)]);
      const run = await runOn(writer, path);
      expect(await lagUntilServed(reader, path, run.id, run.finishedAt)).toBeLessThan(1_000);
      expect((await state(writer, path)).lastRun?.id).toBe(run.id);
    }
  });

  it('answers 304 to a matching If-None-Match, on the first (Nest) and the cached (fast) path, for one and for a page', async () => {
    // Each pair: a URL, and another URL not requested before that serves the same body (so Nest answers it).
    const pairs = [
      [integrationPath(41, 'Invoices'), '/integrations/41/%49nvoices'],
      ['/integrations?limit=3', '/integrations?limit=200'],
    ];
    for (const [path, unseen] of pairs) {
      const first = await get(b, path);
      const etag = first.headers.get('etag')!;
      const body = await first.text();
      expect(first.status).toBe(200);
      expect(etag).toMatch(/^"[^"]+"$/);
      expect(first.headers.get('cache-control')).toBe('no-cache');
      expect(headersOf(first)).toStrictEqual(readHeaders(etag, Buffer.byteLength(body)));
      // The same URL again (the fast path once cached): same bytes, same tag, the very same headers.
      const again = await get(b, path);
      expect([again.status, again.headers.get('etag'), await again.text()]).toStrictEqual([200, etag, body]);
      expect(headersOf(again)).toStrictEqual(headersOf(first));
      expect(again.headers.get('x-request-id')).toMatch(/\S/);
      expect(again.headers.get('x-request-id')).not.toBe(first.headers.get('x-request-id'));
      // A request id the client sends is echoed on the fast path too.
      expect((await get(b, path, { 'x-request-id': 'fast-path.42' })).headers.get('x-request-id')).toBe('fast-path.42');
      const viaNest = await get(b, unseen, { 'if-none-match': etag });
      expect([viaNest.status, viaNest.headers.get('etag'), await viaNest.text()]).toStrictEqual([304, etag, '']);
      expect(headersOf(viaNest)).toStrictEqual(notModifiedHeaders(etag));
      for (const ifNoneMatch of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
        const cached = await get(b, path, { 'if-none-match': ifNoneMatch });
        expect([cached.status, cached.headers.get('etag'), await cached.text()]).toStrictEqual([304, etag, '']);
        expect(headersOf(cached)).toStrictEqual(headersOf(viaNest));
      }
      expect((await get(b, path, { 'if-none-match': '"stale"' })).status).toBe(200);
    }
    // After a run the old tag no longer matches.
    const path = integrationPath(41, 'Invoices');
    const before = (await get(b, path)).headers.get('etag')!;
    const run = await runOn(a, path);
    await lagUntilServed(b, path, run.id, run.finishedAt);
    const after = await get(b, path, { 'if-none-match': before });
    expect(after.status).toBe(200);
    expect(after.headers.get('etag')).not.toBe(before);
  });

  it('the cached path still asks for a key: without one, Nest answers 401', async () => {
    const path = integrationPath(42, NAMES[2]);
    expect((await get(b, path)).status).toBe(200);
    const anonymous = await fetch(b.url + path);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('content-type')).toMatch(/problem\+json/);
  });

  it('with the notification connections cut, reads still turn fresh within 1 s, and the listeners come back', async () => {
    const admin = new Client({ connectionString: db.url });
    await admin.connect();
    try {
      const path = integrationPath(40, 'Orders');
      await state(b, path);
      const cut = await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'tidemark-listener' AND datname = current_database()`,
      );
      expect(cut.rowCount).toBe(2);
      await eventually(async () => !b.tidemark.app.get(StateCache).listening || undefined, 2_000).catch(
        () => undefined,
      );
      const run = await runOn(a, path);
      expect(await lagUntilServed(b, path, run.id, run.finishedAt)).toBeLessThan(1_000);
      await eventually(async () => {
        const { rows } = await admin.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'tidemark-listener' AND datname = current_database()`,
        );
        return rows[0].n === 2 && a.tidemark.app.get(StateCache).listening && b.tidemark.app.get(StateCache).listening;
      }, 10_000);
      const next = await runOn(a, path);
      expect(await lagUntilServed(b, path, next.id, next.finishedAt)).toBeLessThan(1_000);
    } finally {
      await admin.end();
    }
  });
});

import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UpstreamSimulator } from '../../src/demo/simulator';
import { NEVER } from '../support/app';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { freePort, startReplica, type Replica } from '../support/replica';

const sha = (key: string) => `sha256:${createHash('sha256').update(key).digest('hex')}`;
/**
 * Three keys: one with a marker, one with characters that are percent-encoded in URLs, and one as `npm run apikey`
 * makes them (32 random bytes in base64url).
 */
const GENERATED_KEY = 'yZgjPMhHo-DhEQJ5T-3rEoBGP8Jby74W05iWN0AleuQ';
const KEYS = ['KEYMARK1-Qm9f2Lx7aYc1Yw0m2gkZ1pQxR4tUv8wZb', 'KEYMARK2+Jc3x7cSgS/0nq4PL2==', GENERATED_KEY];
/** A key shaped like a generated one that is not configured: it is cut out of the logs all the same. */
const UNKNOWN_KEY = '0e2-E7bS4qlZk0KDkhyd3DfCLYDY02qqKs32RCLIaHk';
const API_KEYS = JSON.stringify(KEYS.map((key, i) => ({ name: `client-${i}`, keyHash: sha(key), scopes: ['read'] })));
const INTEGRATIONS = JSON.stringify([{ sourceSystemId: 12, integrationName: 'Invoices', cron: NEVER }]);

/** GET `path` as written, with these headers, on a connection of its own; resolves with the status. */
function rawGet(base: string, path: string, headers: Record<string, string> = {}): Promise<number> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method: 'GET', headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A connection that has written `bytes`; `closed` resolves with the ms from `since()` to the server's close. */
function openConnection(
  base: string,
  bytes: string,
): Promise<{ socket: Socket; received: () => string; closed: Promise<number> }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    let text = '';
    const socket = connect(Number(port), hostname, () => {
      socket.write(bytes);
      resolve({ socket, received: () => text, closed });
    });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    const closed = new Promise<number>((done) => socket.on('close', () => done(Date.now())));
    socket.on('error', () => undefined);
    socket.once('error', reject);
  });
}

describe('the built service against hostile clients', () => {
  const databases: TestDatabase[] = [];
  let simulator: UpstreamSimulator;
  let upstream: string;
  let replica: Replica | undefined;

  beforeAll(async () => {
    simulator = new UpstreamSimulator();
    upstream = await simulator.start();
  });

  afterEach(async () => {
    await replica?.stop('SIGKILL');
    replica = undefined;
  });

  afterAll(async () => {
    await simulator?.stop();
    for (const db of databases) await db.drop();
  });

  async function production(env: Record<string, string>): Promise<Replica> {
    const db = await createTestDatabase('hostile');
    databases.push(db);
    replica = await startReplica('hostile', {
      NODE_ENV: 'production',
      DATABASE_URL: db.url,
      UPSTREAM_BASE_URL: upstream,
      INTEGRATIONS,
      API_KEYS,
      ...env,
    });
    await replica.ready();
    return replica;
  }

  it('exits within SHUTDOWN_GRACE_MS of SIGTERM although a client holds a request open', async () => {
    const grace = 1_500;
    const service = await production({ SHUTDOWN_GRACE_MS: String(grace), HTTP_REQUEST_TIMEOUT_MS: '600000' });
    // A body that never arrives, and an idle keep-alive connection after one answered request.
    const held = await openConnection(
      service.url,
      'POST /integrations/12/Invoices/runs HTTP/1.1\r\nHost: tidemark\r\nContent-Type: application/json\r\n' +
        'Content-Length: 1000\r\n\r\n{"a":',
    );
    const idle = await openConnection(service.url, 'GET /health/live HTTP/1.1\r\nHost: tidemark\r\n\r\n');
    const deadline = Date.now() + 5_000;
    while (!idle.received().includes('\r\n\r\n') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(idle.received().split('\r\n')[0]).toBe('HTTP/1.1 200 OK');

    const signalled = Date.now();
    service.process.kill('SIGTERM');
    const exit = await Promise.race([
      service.exited,
      new Promise<string>((resolve) => setTimeout(() => resolve('still running 10 s after SIGTERM'), 10_000)),
    ]);
    const exitedAfterMs = Date.now() - signalled;
    expect(exit).toBe(0);
    expect(exitedAfterMs).toBeLessThan(grace + 1_500);
    expect((await idle.closed) - signalled).toBeLessThan(500);
    expect((await held.closed) - signalled).toBeGreaterThanOrEqual(grace - 100);
    expect((await held.closed) - signalled).toBeLessThan(grace + 1_500);
  });

  it('never logs a configured key, wherever a client puts it', async () => {
    const service = await production({ LOG_LEVEL: 'debug' });
    const statuses: number[] = [];
    for (const key of KEYS) {
      const encoded = encodeURIComponent(key);
      const positions: Array<[string, Record<string, string>]> = [
        [`/integrations?x-api-key=${encoded}`, {}],
        [`/integrations?auth=${encoded}`, {}],
        [`/integrations?authorization=Bearer%20${encoded}`, {}],
        [`/integrations?apiKey=${encoded}&limit=1`, {}],
        [`/integrations?q=${encoded}`, {}],
        [`/integrations/12/${encoded}`, {}],
        [`/${encoded}/runs?token=${encoded}`, {}],
        ['/integrations', { authorization: `Bearer ${key}` }],
        ['/integrations', { 'x-api-key': key, 'user-agent': `client/${key}` }],
        ['/integrations', { cookie: `session=${key}; theme=dark` }],
      ];
      for (const [path, headers] of positions) statuses.push(await rawGet(service.url, path, headers));
    }
    // Keys shaped like generated ones inside a path segment and as a query parameter's name.
    const embedded: string[] = [];
    for (const key of [GENERATED_KEY, UNKNOWN_KEY]) {
      embedded.push(`/integrations/12/x${key}`, `/integrations/12/${key}.json`, `/integrations?${key}=1`);
    }
    for (const path of embedded) statuses.push(await rawGet(service.url, path));
    const perKey = [401, 401, 401, 401, 401, 401, 404, 200, 200, 401];
    expect(statuses).toStrictEqual([...perKey, ...perKey, ...perKey, ...embedded.map(() => 401)]);
    expect(await service.stop('SIGTERM')).toBe(0);
    const output = service.output();
    expect(output).not.toContain(UNKNOWN_KEY);
    for (const key of KEYS) {
      for (const form of new Set([key, encodeURIComponent(key), key.replace(/\+/g, ' ')])) {
        expect(output).not.toContain(form);
      }
    }
    // The requests were logged, with the credentials cut out.
    expect(output).toContain('"url":"/integrations?x-api-key=[REDACTED]"');
    expect(output).toContain('"url":"/integrations?authorization=[REDACTED]"');
    expect(output).toContain('"url":"/integrations?q=[REDACTED]"');
    expect(output).toContain('"url":"/integrations/12/[REDACTED]"');
    expect(output).toContain('"url":"/[REDACTED]/runs?token=[REDACTED]"');
    expect(output).toContain('"userAgent":"client/[REDACTED]"');
    expect(output).toContain('"url":"/integrations/12/[REDACTED].json"');
    expect(output).toContain('"url":"/integrations?[REDACTED]=1"');
  });

  it('names DATABASE_URL without its credentials in one JSON line when the database is unreachable', async () => {
    const port = await freePort();
    const unreachable = startReplica('hostile', {
      NODE_ENV: 'production',
      DATABASE_URL: `postgres://tidemark:PASSWORDMARK@127.0.0.1:${port}/tidemark`,
      UPSTREAM_BASE_URL: upstream,
      INTEGRATIONS,
      API_KEYS,
    });
    replica = await unreachable;
    expect(await replica.exited).toBe(1);
    const output = replica.output();
    expect(output).not.toContain('PASSWORDMARK');
    const lines = output.split('\n').filter((line) => line.trim() !== '');
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]) as Record<string, unknown>;
    expect(line).toStrictEqual({
      level: 'fatal',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      replicaId: 'hostile',
      variable: 'DATABASE_URL',
      msg: `DATABASE_URL: the database must be reachable at boot; postgres://127.0.0.1:${port}/tidemark is not (connect ECONNREFUSED 127.0.0.1:${port})`,
    });
  });
});

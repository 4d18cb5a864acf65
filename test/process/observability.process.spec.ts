import { createHash } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { UpstreamSimulator } from '../../src/demo/simulator';
import { integrationPath } from '../support/app';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { startReplica, type Replica } from '../support/replica';

const MARKER = 'SECRET-MARKER';
const API_KEY = `${MARKER}-3-api-key-Qm9f2Lx7`;
const KEY_HASH = `sha256:${createHash('sha256').update(API_KEY).digest('hex')}`;
const INVOICES = { sourceSystemId: 12, integrationName: 'Invoices' };

/**
 * The built service as production runs it, with every secret set to a marker: its whole stdout and stderr over a
 * full cycle (boot, scheduled runs, a manual run, authorised and refused requests, a failed run, shutdown) must be
 * JSON lines that never contain a marker.
 */
describe('logs of the built service', () => {
  const simulators: UpstreamSimulator[] = [];
  const databases: TestDatabase[] = [];
  let replica: Replica | undefined;

  afterEach(async () => {
    await replica?.stop('SIGKILL');
    replica = undefined;
  });

  afterAll(async () => {
    for (const simulator of simulators) await simulator.stop();
    for (const db of databases) await db.drop();
  });

  async function setUp(
    auth:
      | { mode: 'bearer'; token: string }
      | { mode: 'basic'; username: string; password: string }
      | { mode: 'client_credentials'; clientId: string; clientSecret: string },
  ) {
    const simulator = new UpstreamSimulator();
    simulators.push(simulator);
    const upstream = new URL(await simulator.start());
    simulator.configureAuth(auth);
    const db = await createTestDatabase('logs');
    databases.push(db);
    // A role of its own with a marked password, so that the password really is used on a password-auth server.
    const databaseUrl = await db.urlWithPassword(`${MARKER}-4-db-password`);
    return { simulator, upstream, databaseUrl };
  }

  async function fullCycle(env: Record<string, string>, simulator: UpstreamSimulator): Promise<string> {
    replica = await startReplica('logs', {
      INTEGRATIONS: JSON.stringify([{ ...INVOICES, cron: '* * * * * *' }]),
      API_KEYS: JSON.stringify([{ name: 'operator', keyHash: KEY_HASH, scopes: ['read', 'operate'] }]),
      UPSTREAM_RETRY_MAX_ATTEMPTS: '1',
      LOG_LEVEL: 'trace',
      ...env,
    });
    await replica.ready();
    const url = replica.url;
    const withKey = { authorization: `Bearer ${API_KEY}` };
    // A scheduled run succeeds, so the upstream accepted the credentials.
    const deadline = Date.now() + 15_000;
    for (;;) {
      const body = (await (await fetch(url + integrationPath(12, 'Invoices'), { headers: withKey })).json()) as Record<
        string,
        any
      >;
      if (body.lastRun?.trigger === 'schedule' && body.lastRun.outcome === 'succeeded') break;
      if (Date.now() > deadline) throw new Error(`no scheduled success: ${JSON.stringify(body)}\n${replica.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const manual = await fetch(`${url}${integrationPath(12, 'Invoices')}/runs`, {
      method: 'POST',
      headers: { ...withKey, 'x-request-id': 'manual-1' },
    });
    expect(manual.status).toBe(201);
    simulator.script(INVOICES, { status: 500, body: `{"Message":"An error has occurred.","ExceptionMessage":"bad"}` });
    await fetch(`${url}${integrationPath(12, 'Invoices')}/runs`, { method: 'POST', headers: withKey });
    expect((await fetch(`${url}/integrations`, { headers: { 'x-api-key': API_KEY } })).status).toBe(200);
    expect(
      (await fetch(`${url}/integrations?token=${MARKER}-8-query`, { headers: { 'x-api-key': API_KEY } })).status,
    ).toBe(400);
    expect(
      (await fetch(`${url}/integrations`, { headers: { authorization: `Bearer ${MARKER}-7-wrong-key` } })).status,
    ).toBe(401);
    expect(
      (
        await fetch(`${url}/integrations`, {
          headers: { 'x-api-key': `${MARKER}-7-wrong-key`, cookie: `session=${MARKER}-9` },
        })
      ).status,
    ).toBe(401);
    expect(await replica.stop('SIGTERM')).toBe(0);
    return replica.output();
  }

  function expectCleanJsonLines(output: string): Array<Record<string, any>> {
    expect(output).not.toContain(MARKER);
    const lines = output.split('\n').filter((line) => line.trim() !== '');
    const parsed = lines.map((line) => {
      try {
        return JSON.parse(line) as Record<string, any>;
      } catch {
        throw new Error(`not a JSON line: ${line}`);
      }
    });
    // Run lines carry the run's identity; request lines the request id; the manual run's lines both.
    const runLines = parsed.filter((l) => typeof l.msg === 'string' && /^run \d+ of /.test(l.msg));
    expect(runLines.length).toBeGreaterThan(1);
    for (const line of runLines)
      expect(line).toMatchObject({ runId: expect.any(String), sourceSystemId: 12, integrationName: 'Invoices' });
    expect(parsed.some((l) => l.requestId === 'manual-1' && l.runId !== undefined && l.context === 'RunService')).toBe(
      true,
    );
    const completed = parsed.filter((l) => l.msg === 'request completed');
    expect(completed.find((l) => l.requestId === 'manual-1')).toMatchObject({
      apiKeyName: 'operator',
      res: { statusCode: 201 },
    });
    expect(completed.some((l) => l.res.statusCode === 401 && l.level === 'warn')).toBe(true);
    for (const line of parsed)
      expect(line).toMatchObject({ level: expect.any(String), time: expect.any(String), replicaId: 'logs' });
    return parsed;
  }

  it('with bearer upstream auth, URL credentials, a database password and an API key', async () => {
    const token = `${MARKER}-1-bearer-token`;
    const { simulator, upstream, databaseUrl } = await setUp({ mode: 'bearer', token });
    upstream.username = `${MARKER}-6-url-user`;
    upstream.password = `${MARKER}-5-url-password`;
    const output = await fullCycle(
      {
        DATABASE_URL: databaseUrl,
        UPSTREAM_BASE_URL: upstream.toString(),
        UPSTREAM_AUTH: 'bearer',
        UPSTREAM_TOKEN: token,
      },
      simulator,
    );
    expectCleanJsonLines(output);
    expect(simulator.calls.some((c) => c.headers.authorization === `Bearer ${token}`)).toBe(true);
  }, 60_000);

  it('with basic upstream auth', async () => {
    const password = `${MARKER}-2-basic-password`;
    const { simulator, upstream, databaseUrl } = await setUp({ mode: 'basic', username: 'tidemark', password });
    const output = await fullCycle(
      {
        DATABASE_URL: databaseUrl,
        UPSTREAM_BASE_URL: upstream.toString(),
        UPSTREAM_AUTH: 'basic',
        UPSTREAM_USERNAME: 'tidemark',
        UPSTREAM_PASSWORD: password,
      },
      simulator,
    );
    const parsed = expectCleanJsonLines(output);
    expect(parsed.some((l) => l.level === 'warn' && /failed/.test(l.msg ?? '') && l.runId !== undefined)).toBe(true);
  }, 60_000);

  it('with client_credentials upstream auth', async () => {
    const clientSecret = `${MARKER}-10-client-secret`;
    const { simulator, upstream, databaseUrl } = await setUp({
      mode: 'client_credentials',
      clientId: 'tidemark',
      clientSecret,
    });
    const output = await fullCycle(
      {
        DATABASE_URL: databaseUrl,
        UPSTREAM_BASE_URL: upstream.toString(),
        UPSTREAM_AUTH: 'client_credentials',
        UPSTREAM_CLIENT_ID: 'tidemark',
        UPSTREAM_CLIENT_SECRET: clientSecret,
      },
      simulator,
    );
    expectCleanJsonLines(output);
    expect(simulator.tokenRequests).toBeGreaterThan(0);
  }, 60_000);
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpstreamSimulator } from '../../src/demo/simulator';
import { NEVER, integrationPath, startApp, type RunningApp } from '../support/app';
import { createTestDatabase, type TestDatabase } from '../support/database';

/**
 * UPSTREAM_AUTH=client_credentials through the whole app against the simulator's token endpoint:
 * the token is fetched once and cached, an expired token is refreshed once on the 401, a refused
 * client fails the run with errorCode `token`, and no token or secret ever reaches a run record.
 */

const KEY = { sourceSystemId: 12, integrationName: 'Invoices' };
const PATH = integrationPath(KEY.sourceSystemId, KEY.integrationName);
const CLIENT = { clientId: 'tidemark-e2e', clientSecret: 'e2e-client-secret-7c1f' };

type Run = Record<string, any>;

describe('upstream token auth e2e (client_credentials)', () => {
  let db: TestDatabase;
  let simulator: UpstreamSimulator;
  let app: RunningApp;

  const run = async (): Promise<Run> => {
    const response = await fetch(`${app.url}${PATH}/runs`, { method: 'POST', signal: AbortSignal.timeout(20_000) });
    const body = (await response.json()) as Run;
    expect(response.status).toBe(201);
    return body;
  };
  /** Every access token the simulator has seen, to check none leaked into a run record. */
  const tokensSeen = () =>
    simulator.calls
      .map((c) => String(c.headers.authorization ?? '').replace(/^Bearer /, ''))
      .filter((t) => t.length > 0);

  beforeAll(async () => {
    db = await createTestDatabase('token');
    simulator = new UpstreamSimulator();
    const upstream = await simulator.start();
    simulator.configureAuth({ mode: 'client_credentials', ...CLIENT, tokenTtlSeconds: 3600 });
    app = await startApp({
      DATABASE_URL: db.url,
      UPSTREAM_BASE_URL: upstream,
      UPSTREAM_TIMEOUT_MS: '3000',
      UPSTREAM_AUTH: 'client_credentials',
      UPSTREAM_CLIENT_ID: CLIENT.clientId,
      UPSTREAM_CLIENT_SECRET: CLIENT.clientSecret,
      UPSTREAM_TOKEN_REQUEST_FORMAT: 'form',
      UPSTREAM_RETRY_MAX_ATTEMPTS: '2',
      UPSTREAM_RETRY_BASE_MS: '10',
      UPSTREAM_BREAKER_THRESHOLD: '1000',
      INTEGRATIONS: JSON.stringify([{ ...KEY, cron: NEVER }]),
    });
  });

  afterAll(async () => {
    await app?.close();
    await simulator?.stop();
    await db?.drop();
  });

  it('fetches a token once and reuses it for later runs', async () => {
    const first = await run();
    expect([first.outcome, first.errorCode, first.httpStatus]).toStrictEqual(['succeeded', null, 200]);
    const second = await run();
    expect(second.outcome).toBe('succeeded');
    expect(simulator.tokenRequests).toBe(1);
    expect(simulator.calls.map((c) => c.status)).toStrictEqual([200, 200]);
    expect(String(simulator.calls[0].headers.authorization)).toMatch(/^Bearer sim-/);
  });

  it('refreshes an expired token once on the 401 and the run succeeds', async () => {
    const before = simulator.tokenRequests;
    simulator.calls.length = 0;
    simulator.expireTokens();
    const refreshed = await run();
    expect([refreshed.outcome, refreshed.errorCode]).toStrictEqual(['succeeded', null]);
    expect(refreshed.attempts.map((a: Run) => [a.attempt, a.httpStatus, a.errorCode])).toStrictEqual([
      [1, 401, 'http_status'],
      [2, 200, null],
    ]);
    expect(simulator.tokenRequests).toBe(before + 1);
    expect(simulator.calls.map((c) => c.status)).toStrictEqual([401, 200]);
    const text = JSON.stringify(refreshed);
    for (const token of tokensSeen()) expect(text).not.toContain(token);
  });

  it('fails the run with errorCode token when the token endpoint refuses the client, without leaking the secret', async () => {
    simulator.configureAuth({
      mode: 'client_credentials',
      clientId: CLIENT.clientId,
      clientSecret: 'rotated-secret-0000',
    });
    simulator.calls.length = 0;
    const failed = await run();
    expect([failed.outcome, failed.errorCode, failed.httpStatus]).toStrictEqual(['failed', 'token', 400]);
    expect(failed.error).toContain('answered HTTP 400 Bad Request: invalid_client');
    // The cached token went first (401, since reconfiguring dropped it); the refresh was refused.
    expect(simulator.calls.map((c) => c.status)).toStrictEqual([401]);
    expect(failed.attempts.map((a: Run) => [a.httpStatus, a.errorCode])).toStrictEqual([
      [401, 'http_status'],
      [400, 'token'],
    ]);
    expect(JSON.stringify(failed)).not.toContain(CLIENT.clientSecret);
    // Back to the right secret: the next run gets a fresh token and succeeds.
    simulator.configureAuth({ mode: 'client_credentials', ...CLIENT });
    expect((await run()).outcome).toBe('succeeded');
  });
});

import { describe, expect, it } from 'vitest';
import { UpstreamSimulator } from '../../src/demo/simulator';
import { NEVER, startApp } from '../support/app';
import { createTestDatabase } from '../support/database';
import { DIALECTS, KEY, PASSWORD, PATH, itSpeaksDialect } from '../support/token-dialects';

type Run = Record<string, any>;

describe('upstream token dialect e2e', () => {
  itSpeaksDialect(DIALECTS.passwordDefault);

  it('honours expires_in: a token past its lifetime is fetched again before the call, without a 401', async () => {
    const db = await createTestDatabase('dialectttl');
    const simulator = new UpstreamSimulator();
    const upstream = await simulator.start();
    simulator.configureAuth({ mode: 'password', username: 'bb-user', password: PASSWORD, tokenTtlSeconds: 1 });
    const app = await startApp({
      DATABASE_URL: db.url,
      UPSTREAM_BASE_URL: upstream,
      UPSTREAM_AUTH: 'password',
      UPSTREAM_USERNAME: 'bb-user',
      UPSTREAM_PASSWORD: PASSWORD,
      INTEGRATIONS: JSON.stringify([{ ...KEY, cron: NEVER }]),
    });
    const run = async () => (await (await fetch(`${app.url}${PATH}/runs`, { method: 'POST' })).json()) as Run;
    expect((await run()).outcome).toBe('succeeded');
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await run()).outcome).toBe('succeeded');
    expect(simulator.tokenRequests).toBe(2);
    expect(simulator.calls.map((c) => c.status)).toStrictEqual([200, 200]);
    await app.close();
    await simulator.stop();
    await db.drop();
  });
});

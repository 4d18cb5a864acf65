import { expect, it } from 'vitest';
import { type SimulatorAuthConfig, UpstreamSimulator } from '../../src/demo/simulator';
import { NEVER, integrationPath, startApp } from './app';
import { createTestDatabase } from './database';

/**
 * Gravitate's token dialects through the whole app against the simulator. One test file per dialect: the app's
 * logger is built once per process, and each dialect's log lines are captured from it.
 */

export const KEY = { sourceSystemId: 31, integrationName: 'Tanks' };
export const PATH = integrationPath(KEY.sourceSystemId, KEY.integrationName);
export const PASSWORD = 'pw e2e+/=&?#%secret-91';
const CLIENT_SECRET = 'cs e2e+/=&?#%secret-92';

type Run = Record<string, any>;

export interface Dialect {
  name: string;
  simulator: SimulatorAuthConfig;
  env: (upstream: string) => Record<string, string>;
  path: string;
  mediaType: string;
  fields: Array<[string, string]>;
  secret: string;
}

export const DIALECTS = {
  passwordDefault: {
    name: 'password form to the default {base}/api/token/authorize, Bearer-prefixed token',
    simulator: {
      mode: 'password',
      username: 'bb-user',
      password: PASSWORD,
      prefixBearer: true,
      tokenRequestFormat: 'form',
      refuseGrantType: true,
    },
    env: () => ({
      UPSTREAM_AUTH: 'password',
      UPSTREAM_USERNAME: 'bb-user',
      UPSTREAM_PASSWORD: PASSWORD,
      UPSTREAM_SCOPE: 'bb',
    }),
    path: '/api/token/authorize',
    mediaType: 'application/x-www-form-urlencoded',
    fields: [
      ['username', 'bb-user'],
      ['password', PASSWORD],
      ['scope', 'bb'],
    ],
    secret: PASSWORD,
  },
  passwordTokenAuthorize: {
    name: 'password form to {base}/token/authorize, no expires_in',
    simulator: {
      mode: 'password',
      username: 'bb-user',
      password: PASSWORD,
      tokenRequestFormat: 'form',
      refuseGrantType: true,
      omitExpiresIn: true,
    },
    env: (upstream) => ({
      UPSTREAM_AUTH: 'password',
      UPSTREAM_USERNAME: 'bb-user',
      UPSTREAM_PASSWORD: PASSWORD,
      UPSTREAM_TOKEN_URL: `${upstream}/token/authorize`,
    }),
    path: '/token/authorize',
    mediaType: 'application/x-www-form-urlencoded',
    fields: [
      ['username', 'bb-user'],
      ['password', PASSWORD],
    ],
    secret: PASSWORD,
  },
  clientJsonToken: {
    name: 'client_credentials JSON to {base}/token without grant_type',
    simulator: {
      mode: 'client_credentials',
      clientId: 'bb-client',
      clientSecret: CLIENT_SECRET,
      tokenRequestFormat: 'json',
      refuseGrantType: true,
      prefixBearer: true,
    },
    env: (upstream) => ({
      UPSTREAM_AUTH: 'client_credentials',
      UPSTREAM_CLIENT_ID: 'bb-client',
      UPSTREAM_CLIENT_SECRET: CLIENT_SECRET,
      UPSTREAM_SCOPE: 'bb',
      UPSTREAM_TOKEN_URL: `${upstream}/token`,
      UPSTREAM_TOKEN_GRANT_TYPE: '',
    }),
    path: '/token',
    mediaType: 'application/json',
    fields: [
      ['client_id', 'bb-client'],
      ['client_secret', CLIENT_SECRET],
      ['scope', 'bb'],
    ],
    secret: CLIENT_SECRET,
  },
  clientFormV1: {
    name: 'client_credentials form to {base}/v1/token with the default grant_type',
    simulator: {
      mode: 'client_credentials',
      clientId: 'bb-client',
      clientSecret: CLIENT_SECRET,
      tokenRequestFormat: 'form',
    },
    env: (upstream) => ({
      UPSTREAM_AUTH: 'client_credentials',
      UPSTREAM_CLIENT_ID: 'bb-client',
      UPSTREAM_CLIENT_SECRET: CLIENT_SECRET,
      UPSTREAM_TOKEN_URL: `${upstream}/v1/token`,
      UPSTREAM_TOKEN_REQUEST_FORMAT: 'form',
    }),
    path: '/v1/token',
    mediaType: 'application/x-www-form-urlencoded',
    fields: [
      ['grant_type', 'client_credentials'],
      ['client_id', 'bb-client'],
      ['client_secret', CLIENT_SECRET],
    ],
    secret: CLIENT_SECRET,
  },
} satisfies Record<string, Dialect>;

/**
 * One dialect end to end: the token request the simulator reads (path, media type, fields in order), the token
 * reused by a second run, a fresh token fetched once on a 401, and no secret or token in any log line at debug.
 */
export function itSpeaksDialect(dialect: Dialect): void {
  it(dialect.name, async () => {
    const db = await createTestDatabase('dialect');
    const simulator = new UpstreamSimulator();
    const upstream = await simulator.start();
    simulator.configureAuth({ ...dialect.simulator, tokenTtlSeconds: 3600 });
    const lines: string[] = [];
    const app = await startApp(
      {
        DATABASE_URL: db.url,
        UPSTREAM_BASE_URL: upstream,
        UPSTREAM_TIMEOUT_MS: '3000',
        UPSTREAM_RETRY_MAX_ATTEMPTS: '2',
        UPSTREAM_RETRY_BASE_MS: '10',
        UPSTREAM_BREAKER_THRESHOLD: '1000',
        LOG_LEVEL: 'debug',
        INTEGRATIONS: JSON.stringify([{ ...KEY, cron: NEVER }]),
        ...dialect.env(upstream),
      },
      { logDestination: { write: (line: string) => void lines.push(line) } },
    );
    try {
      const run = async (): Promise<Run> => {
        const response = await fetch(`${app.url}${PATH}/runs`, { method: 'POST', signal: AbortSignal.timeout(20_000) });
        expect(response.status).toBe(201);
        return (await response.json()) as Run;
      };

      const first = await run();
      expect([first.outcome, first.errorCode, first.httpStatus]).toStrictEqual(['succeeded', null, 200]);
      expect(simulator.tokenRequestLog).toStrictEqual([
        { path: dialect.path, mediaType: dialect.mediaType, fields: dialect.fields },
      ]);
      expect(String(simulator.calls[0].headers.authorization)).toMatch(/^Bearer sim-[A-Za-z0-9_-]{24}$/);

      expect((await run()).outcome).toBe('succeeded');
      expect(simulator.tokenRequests).toBe(1);

      simulator.expireTokens();
      const refreshed = await run();
      expect([refreshed.outcome, refreshed.errorCode]).toStrictEqual(['succeeded', null]);
      expect(refreshed.attempts.map((a: Run) => [a.attempt, a.httpStatus])).toStrictEqual([
        [1, 401],
        [2, 200],
      ]);
      expect(simulator.tokenRequests).toBe(2);
      expect(simulator.calls.map((c) => c.status)).toStrictEqual([200, 200, 401, 200]);

      const tokens = new Set(simulator.calls.map((c) => String(c.headers.authorization).slice('Bearer '.length)));
      expect(tokens.size).toBe(2);
      expect(lines.length).toBeGreaterThan(3);
      const spellings = [
        dialect.secret,
        encodeURIComponent(dialect.secret),
        new URLSearchParams([['', dialect.secret]]).toString().slice(1),
      ];
      for (const line of lines) {
        for (const secret of [...spellings, ...tokens]) expect(line).not.toContain(secret);
      }
    } finally {
      await app.close();
      await simulator.stop();
      await db.drop();
    }
  });
}

import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type Env } from '../../../src/config';
import { databaseUnreachable, urlWithoutCredentials } from '../../../src/config/boot-failure';
import { authBootLine } from '../../../src/http/auth/access.module';

function problemsOf(env: Env): string[] {
  try {
    loadConfig(env, '/srv');
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

const PRODUCTION = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://db/x',
  UPSTREAM_BASE_URL: 'https://erp',
  INTEGRATIONS: '[{"sourceSystemId":1,"integrationName":"Orders"}]',
};
const KEY = { name: 'billing-sync', keyHash: `sha256:${'ab'.repeat(32)}`, scopes: ['read'] };

describe('production access', () => {
  it('refuses an empty API_KEYS list, naming API_KEYS', () => {
    expect(problemsOf({ ...PRODUCTION, API_KEYS: '[]' })).toStrictEqual([
      'API_KEYS: must list at least one key when NODE_ENV=production (or set AUTH_DISABLED=true to serve without keys)',
    ]);
    expect(problemsOf({ ...PRODUCTION, API_KEYS: '[]', AUTH_DISABLED: 'false' })).toStrictEqual([
      'API_KEYS: must list at least one key when NODE_ENV=production (or set AUTH_DISABLED=true to serve without keys)',
    ]);
  });

  it('turns auth off only with AUTH_DISABLED=true, and says which applies at boot', () => {
    const disabled = loadConfig({ ...PRODUCTION, API_KEYS: '[]', AUTH_DISABLED: 'true' }, '/');
    expect(disabled.access.authDisabled).toBe(true);
    expect(disabled.authMode).toBe('disabled');
    expect(authBootLine(disabled)).toStrictEqual({
      level: 'warn',
      message: 'AUTH_DISABLED=true: the facade answers everyone without a key',
    });

    const keyed = loadConfig({ ...PRODUCTION, API_KEYS: JSON.stringify([KEY, { ...KEY, name: 'ops' }]) }, '/');
    expect(keyed.access.authDisabled).toBe(false);
    expect(keyed.authMode).toBe('keys');
    expect(authBootLine(keyed)).toStrictEqual({
      level: 'info',
      message: 'API_KEYS: 2 keys loaded (billing-sync, ops); every route but the public ones needs one',
    });

    const demo = loadConfig({ API_KEYS: '[]' }, '/');
    expect(demo.access.authDisabled).toBe(true);
    expect(demo.authMode).toBe('open_demo');
    expect(authBootLine(demo)).toStrictEqual({
      level: 'warn',
      message: 'no API_KEYS: the facade answers everyone without a key (set API_KEYS; npm run apikey makes one)',
    });
  });
});

describe('configuration values checked at boot by the code that uses them', () => {
  it('refuses a legacy zone abbreviation with the IANA name to use', () => {
    expect(problemsOf({ UPSTREAM_TIMEZONE: 'CST' })).toStrictEqual([
      'UPSTREAM_TIMEZONE: must be an IANA time zone such as UTC or America/Chicago; "CST" is not one, use America/Chicago',
    ]);
    expect(problemsOf({ SCHEDULE_TIMEZONE: 'PST' })).toStrictEqual([
      'SCHEDULE_TIMEZONE: must be an IANA time zone such as UTC or America/Chicago; "PST" is not one, use America/Los_Angeles',
    ]);
    expect(problemsOf({ INTEGRATIONS: '[{"sourceSystemId":1,"integrationName":"A","timeZone":"CST"}]' })).toStrictEqual(
      [
        'INTEGRATIONS[0].timeZone: must be an IANA time zone such as UTC or America/Chicago; "CST" is not one, use America/Chicago',
      ],
    );
  });

  it('accepts IANA zones, including the backward-compatible ones', () => {
    const config = loadConfig(
      {
        UPSTREAM_TIMEZONE: 'America/Chicago',
        SCHEDULE_TIMEZONE: 'EST',
        INTEGRATIONS: '[{"sourceSystemId":1,"integrationName":"A","timeZone":"CST6CDT"}]',
      },
      '/',
    );
    expect(config.upstream.timeZone).toBe('America/Chicago');
    expect(config.schedule.defaultTimeZone).toBe('EST');
    expect(config.integrations[0].timeZone).toBe('CST6CDT');
  });

  it('refuses a cron that never fires, naming the variable or the integration', () => {
    expect(problemsOf({ SCHEDULE_CRON: '0 0 0 31 2 *' })).toStrictEqual([
      'SCHEDULE_CRON: must fire within the next 5 years in UTC (got "0 0 0 31 2 *")',
    ]);
    expect(
      problemsOf({
        INTEGRATIONS:
          '[{"sourceSystemId":1,"integrationName":"A"},{"sourceSystemId":2,"integrationName":"B","cron":"0 0 0 30 2 *","timeZone":"Europe/Berlin"}]',
      }),
    ).toStrictEqual(['INTEGRATIONS[1].cron: must fire within the next 5 years in Europe/Berlin (got "0 0 0 30 2 *")']);
    // 29 February fires within four years.
    const leap = loadConfig(
      { INTEGRATIONS: '[{"sourceSystemId":1,"integrationName":"A","cron":"0 0 0 29 2 *"}]' },
      '/',
    );
    expect(leap.integrations[0].cron).toBe('0 0 0 29 2 *');
  });

  it('refuses a Basic user name containing a colon, without showing it', () => {
    const problems = problemsOf({
      UPSTREAM_AUTH: 'basic',
      UPSTREAM_USERNAME: 'svc:SECRETMARK',
      UPSTREAM_PASSWORD: 'pw',
    });
    expect(problems).toStrictEqual([
      'UPSTREAM_USERNAME: must not contain ":" (Basic authentication puts it between user name and password)',
    ]);
    expect(problems.join('\n')).not.toContain('SECRETMARK');
  });

  it('reads the HTTP limits, with their defaults and ranges', () => {
    expect(loadConfig({}, '/').httpLimits).toStrictEqual({ requestTimeoutMs: 30000, maxConnections: 1024 });
    expect(loadConfig({ HTTP_REQUEST_TIMEOUT_MS: '5000', HTTP_MAX_CONNECTIONS: '64' }, '/').httpLimits).toStrictEqual({
      requestTimeoutMs: 5000,
      maxConnections: 64,
    });
    expect(problemsOf({ HTTP_REQUEST_TIMEOUT_MS: '0', HTTP_MAX_CONNECTIONS: 'many' })).toStrictEqual([
      'HTTP_REQUEST_TIMEOUT_MS: must be an integer from 100 to 3600000 (got "0")',
      'HTTP_MAX_CONNECTIONS: must be an integer from 1 to 1000000 (got "many")',
    ]);
  });

  it('names DATABASE_URL without its credentials when the database is unreachable', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const failure = databaseUnreachable('postgres://app:S3CRET@127.0.0.1:1/tidemark?sslmode=disable', refused);
    expect(failure.variable).toBe('DATABASE_URL');
    expect(failure.message).toBe(
      'DATABASE_URL: the database must be reachable at boot; postgres://127.0.0.1:1/tidemark?sslmode=disable is not (connect ECONNREFUSED 127.0.0.1:1)',
    );
    expect(urlWithoutCredentials('postgresql://u@h/db?password=S3CRET')).toBe(
      'postgresql://h/db?password=%5BREDACTED%5D',
    );
  });
});

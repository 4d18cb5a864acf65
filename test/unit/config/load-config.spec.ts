import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type Env } from '../../../src/config';

function problemsOf(env: Env): string[] {
  try {
    loadConfig(env, '/srv');
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('gives demo defaults with no variables set', () => {
    const config = loadConfig({}, '/srv');
    expect(config.production).toBe(false);
    expect(config.demoIntegrations).toBe(true);
    expect(config.database.url).toBeNull();
    expect(config.upstream.baseUrl).toBeNull();
    expect(config.upstream).toStrictEqual({
      baseUrl: null,
      format: 'json',
      timeoutMs: 30000,
      attemptTimeoutMs: 15000,
      auth: { kind: 'none' },
      timeZone: 'UTC',
      maxBodyBytes: 1048576,
      connectTimeoutMs: 5000,
      retry: { maxAttempts: 4, baseMs: 500, maxMs: 30000 },
      breaker: { threshold: 5, halfOpenAfterMs: 60000 },
    });
    expect(config.schedule).toStrictEqual({
      defaultCron: '0 */5 * * * *',
      defaultTimeZone: 'UTC',
      pollIntervalMs: 250,
      misfireThresholdMs: 60000,
      defaultMisfirePolicy: 'fire_once_now',
      leaseMs: 30000,
      maxConcurrentRuns: 32,
      shutdownGraceMs: 25000,
      runHistoryDays: 30,
    });
    expect(config.dbWriteRetryMs).toBe(60000);
    expect(config.observability).toStrictEqual({
      logLevel: 'info',
      logFormat: 'json',
      readsAtDebug: false,
      staleAfterMs: null,
    });
    expect(config.access).toStrictEqual({
      apiKeys: [],
      authDisabled: true,
      metricsPublic: true,
      docsPublic: true,
      rateLimitPerMinute: 600,
      corsOrigins: [],
    });
    expect(config.http).toStrictEqual({ host: '0.0.0.0', port: 3000 });
    expect(config.dataDir).toBe('/srv/.data');
    expect(config.schedule.defaultCron).toBe('0 */5 * * * *');
    expect(config.integrations).toStrictEqual([
      {
        sourceSystemId: 1,
        integrationName: 'Orders',
        cron: '*/10 * * * * *',
        timeZone: 'UTC',
        enabled: true,
        misfirePolicy: 'fire_once_now',
      },
      {
        sourceSystemId: 2,
        integrationName: 'Invoices',
        cron: '*/10 * * * * *',
        timeZone: 'UTC',
        enabled: true,
        misfirePolicy: 'fire_once_now',
      },
    ]);
  });

  it('reads INTEGRATIONS and applies schedule defaults', () => {
    const config = loadConfig(
      {
        INTEGRATIONS:
          '[{"sourceSystemId":1,"integrationName":"Orders","cron":"0 */5 * * * *","timeZone":"America/Chicago","enabled":true},{"sourceSystemId":7,"integrationName":"Tank / Läger","misfirePolicy":"skip"}]',
        SCHEDULE_CRON: '*/30 * * * * *',
        SCHEDULE_TIMEZONE: 'Europe/Berlin',
      },
      '/srv',
    );
    expect(config.demoIntegrations).toBe(false);
    expect(config.integrations).toStrictEqual([
      {
        sourceSystemId: 1,
        integrationName: 'Orders',
        cron: '0 */5 * * * *',
        timeZone: 'America/Chicago',
        enabled: true,
        misfirePolicy: 'fire_once_now',
      },
      {
        sourceSystemId: 7,
        integrationName: 'Tank / Läger',
        cron: '*/30 * * * * *',
        timeZone: 'Europe/Berlin',
        enabled: true,
        misfirePolicy: 'skip',
      },
    ]);
  });

  it('reads INTEGRATIONS_FILE relative to the working directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tidemark-config-'));
    writeFileSync(join(dir, 'integrations.json'), '[{"sourceSystemId":3,"integrationName":"Tickets"}]');
    const config = loadConfig({ INTEGRATIONS_FILE: 'integrations.json' }, dir);
    expect(config.integrations.map((i) => [i.sourceSystemId, i.integrationName])).toStrictEqual([[3, 'Tickets']]);
  });

  it('names the variable and the rule, one line per problem', () => {
    expect(
      problemsOf({
        UPSTREAM_TIMEOUT_MS: 'abc',
        UPSTREAM_FORMAT: 'yaml',
        PORT: '70000',
        SCHEDULE_TIMEZONE: 'Mars/Olympus',
      }),
    ).toStrictEqual([
      'UPSTREAM_FORMAT: must be one of json, xml (got "yaml")',
      'UPSTREAM_TIMEOUT_MS: must be an integer from 1 to 3600000 (got "abc")',
      'SCHEDULE_TIMEZONE: must be an IANA time zone such as UTC or America/Chicago (got "Mars/Olympus")',
      'PORT: must be an integer from 0 to 65535 (got "70000")',
    ]);
  });

  it('never prints a secret value', () => {
    const secret = 'hunter2-SECRET-MARKER';
    const problems = problemsOf({
      DATABASE_URL: `mysql://u:${secret}@h/db`,
      UPSTREAM_AUTH: 'basic',
      UPSTREAM_USERNAME: 'svc',
      UPSTREAM_BASE_URL: `ftp://u:${secret}@h`,
    });
    expect(problems).toStrictEqual([
      'DATABASE_URL: must be a postgres:// or postgresql:// URL',
      'UPSTREAM_BASE_URL: must be an http:// or https:// URL',
      'UPSTREAM_PASSWORD: must be set when UPSTREAM_AUTH=basic',
      'INTEGRATIONS: must be set (or INTEGRATIONS_FILE) when UPSTREAM_BASE_URL is set; the demo samples only run against the bundled simulator',
    ]);
    expect(problems.join('\n')).not.toContain(secret);
  });

  it('refuses demo fallbacks in production', () => {
    expect(problemsOf({ NODE_ENV: 'production' })).toStrictEqual([
      'DATABASE_URL: must be set when NODE_ENV=production (the embedded Postgres is for demo mode only)',
      'UPSTREAM_BASE_URL: must be set when NODE_ENV=production (the simulator is for demo mode only)',
      'API_KEYS: must be set when NODE_ENV=production (or set AUTH_DISABLED=true to serve without keys)',
    ]);
    const explicit = loadConfig(
      {
        NODE_ENV: 'production',
        DATABASE_URL: 'postgres://db/x',
        UPSTREAM_BASE_URL: 'https://erp',
        AUTH_DISABLED: 'true',
        INTEGRATIONS: '[{"sourceSystemId":1,"integrationName":"Orders"}]',
      },
      '/',
    );
    expect(explicit.access.authDisabled).toBe(true);
  });

  it('reads API_KEYS and never echoes them', () => {
    const hash = 'sha256:' + 'AB'.repeat(32);
    const config = loadConfig(
      { API_KEYS: JSON.stringify([{ name: 'billing-sync', keyHash: hash, scopes: ['read', 'read'] }]) },
      '/',
    );
    expect(config.access.apiKeys).toStrictEqual([
      { name: 'billing-sync', sha256Hex: 'ab'.repeat(32), scopes: ['read'] },
    ]);
    expect(config.access.authDisabled).toBe(false);
    const problems = problemsOf({
      API_KEYS: JSON.stringify([{ name: 'x', keyHash: 'md5:SECRETMARK', scopes: ['admin'] }]),
    });
    expect(problems).toStrictEqual([
      'API_KEYS[0].keyHash: must be "sha256:" followed by 64 hex digits (npm run apikey prints one)',
      'API_KEYS[0].scopes: must hold only read and operate',
    ]);
    expect(problemsOf({ API_KEYS: 'SECRETMARK' })).toStrictEqual(['API_KEYS: must be valid JSON']);
  });

  it('requires client credentials for UPSTREAM_AUTH=client_credentials', () => {
    expect(problemsOf({ UPSTREAM_AUTH: 'client_credentials' })).toStrictEqual([
      'UPSTREAM_CLIENT_ID: must be set when UPSTREAM_AUTH=client_credentials',
      'UPSTREAM_CLIENT_SECRET: must be set when UPSTREAM_AUTH=client_credentials',
    ]);
    const config = loadConfig(
      {
        UPSTREAM_AUTH: 'client_credentials',
        UPSTREAM_CLIENT_ID: 'tm',
        UPSTREAM_CLIENT_SECRET: 's3',
        UPSTREAM_TOKEN_REQUEST_FORMAT: 'form',
      },
      '/',
    );
    expect(config.upstream.auth).toStrictEqual({
      kind: 'client_credentials',
      clientId: 'tm',
      clientSecret: 's3',
      scope: null,
      tokenUrl: null,
      requestFormat: 'form',
    });
  });

  it('requires the token for bearer auth', () => {
    expect(problemsOf({ UPSTREAM_AUTH: 'bearer' })).toStrictEqual([
      'UPSTREAM_TOKEN: must be set when UPSTREAM_AUTH=bearer',
    ]);
    expect(loadConfig({ UPSTREAM_AUTH: 'bearer', UPSTREAM_TOKEN: 't0k' }, '/').upstream.auth).toStrictEqual({
      kind: 'bearer',
      token: 't0k',
    });
  });

  it('refuses INTEGRATIONS together with INTEGRATIONS_FILE', () => {
    expect(problemsOf({ INTEGRATIONS: '[]', INTEGRATIONS_FILE: 'x.json' })).toStrictEqual([
      'INTEGRATIONS_FILE: must not be set together with INTEGRATIONS (choose one)',
    ]);
  });

  it('refuses duplicate pairs, comparing names as the upstream does (case-insensitively, ignoring trailing spaces)', () => {
    expect(
      problemsOf({
        INTEGRATIONS:
          '[{"sourceSystemId":1,"integrationName":"Orders"},{"sourceSystemId":1,"integrationName":"ORDERS"},{"sourceSystemId":1,"integrationName":"Orders  "}]',
      }),
    ).toStrictEqual([
      'INTEGRATIONS[1]: duplicates INTEGRATIONS[0] (sourceSystemId 1, integrationName "ORDERS"; names compare case-insensitively, ignoring trailing spaces)',
      'INTEGRATIONS[2]: duplicates INTEGRATIONS[0] (sourceSystemId 1, integrationName "Orders  "; names compare case-insensitively, ignoring trailing spaces)',
    ]);
  });

  it('never schedules the demo samples against a real upstream', () => {
    expect(problemsOf({ UPSTREAM_BASE_URL: 'https://erp.example.com' })).toStrictEqual([
      'INTEGRATIONS: must be set (or INTEGRATIONS_FILE) when UPSTREAM_BASE_URL is set; the demo samples only run against the bundled simulator',
    ]);
  });

  it('checks cross-variable rules: retry base within the cap, a base URL without query or fragment', () => {
    expect(
      problemsOf({
        UPSTREAM_RETRY_BASE_MS: '100000',
        UPSTREAM_BASE_URL: 'https://erp.example.com/api?x=1',
        INTEGRATIONS: '[]',
      }),
    ).toStrictEqual([
      'UPSTREAM_RETRY_BASE_MS: must not exceed UPSTREAM_RETRY_MAX_MS (30000)',
      'UPSTREAM_BASE_URL: must not have a query string or fragment (the endpoint path is appended to it)',
    ]);
  });

  it('validates each integration field by index', () => {
    expect(
      problemsOf({
        INTEGRATIONS:
          '[{"sourceSystemId":2147483648,"integrationName":"","cron":"every minute","timeZone":"Nowhere","enabled":"yes","misfirePolicy":"later","color":"red"}]',
      }),
    ).toStrictEqual([
      'INTEGRATIONS[0].color: is not a known setting',
      'INTEGRATIONS[0].sourceSystemId: must be an integer from 0 to 2147483647',
      'INTEGRATIONS[0].integrationName: must not be empty',
      'INTEGRATIONS[0].cron: must be a cron expression with 6 fields, seconds first (e.g. "0 */5 * * * *"), or 5 fields',
      'INTEGRATIONS[0].timeZone: must be an IANA time zone such as UTC or America/Chicago',
      'INTEGRATIONS[0].enabled: must be true or false',
      'INTEGRATIONS[0].misfirePolicy: must be one of fire_once_now, skip',
    ]);
  });

  it('rejects the integration names . and .., which no URL path can name', () => {
    expect(
      problemsOf({
        INTEGRATIONS:
          '[{"sourceSystemId":1,"integrationName":"."},{"sourceSystemId":1,"integrationName":".."},{"sourceSystemId":1,"integrationName":"..."}]',
      }),
    ).toStrictEqual([
      'INTEGRATIONS[0].integrationName: must not be . or .. (a URL path segment cannot name it)',
      'INTEGRATIONS[1].integrationName: must not be . or .. (a URL path segment cannot name it)',
    ]);
  });

  it('rejects INTEGRATIONS that is not a JSON array', () => {
    expect(problemsOf({ INTEGRATIONS: '{"sourceSystemId":1}' })).toStrictEqual([
      'INTEGRATIONS: must be a JSON array of {"sourceSystemId", "integrationName", ...} objects',
    ]);
    expect(problemsOf({ INTEGRATIONS: '[1' })[0]).toMatch(/^INTEGRATIONS: must be valid JSON \(/);
  });

  it('rejects fractional and exponent sourceSystemIds', () => {
    expect(problemsOf({ INTEGRATIONS: '[{"sourceSystemId":1.5,"integrationName":"A"}]' })).toStrictEqual([
      'INTEGRATIONS[0].sourceSystemId: must be an integer from 0 to 2147483647',
    ]);
    expect(problemsOf({ INTEGRATIONS: '[{"sourceSystemId":1e3,"integrationName":"A"}]' })).toStrictEqual([
      'INTEGRATIONS[0].sourceSystemId: must be an integer from 0 to 2147483647',
    ]);
  });
});

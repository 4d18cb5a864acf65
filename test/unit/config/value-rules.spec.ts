import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type Env } from '../../../src/config';
import { loadDatabaseConfig } from '../../../src/config/database-config';

function problemsOf(load: () => unknown): string[] {
  try {
    load();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

const serviceProblems = (env: Env): string[] => problemsOf(() => loadConfig(env, '/srv'));

const PRODUCTION = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://db/x',
  UPSTREAM_BASE_URL: 'https://erp',
  AUTH_DISABLED: 'true',
};

describe('an empty integration list', () => {
  it('is refused in production, naming the variable it came from and why, and accepted outside production', () => {
    expect(serviceProblems({ ...PRODUCTION, INTEGRATIONS: '[]' })).toStrictEqual([
      'INTEGRATIONS: must list at least one integration when NODE_ENV=production (an empty list would disable every integration of every replica sharing the database)',
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'tidemark-config-'));
    writeFileSync(join(dir, 'integrations.json'), ' [ ] ');
    expect(problemsOf(() => loadConfig({ ...PRODUCTION, INTEGRATIONS_FILE: 'integrations.json' }, dir))).toStrictEqual([
      'INTEGRATIONS_FILE: must list at least one integration when NODE_ENV=production (an empty list would disable every integration of every replica sharing the database)',
    ]);
    for (const nodeEnv of ['development', 'test']) {
      const config = loadConfig({ ...PRODUCTION, NODE_ENV: nodeEnv, INTEGRATIONS: '[]' }, '/');
      expect(config.integrations).toStrictEqual([]);
      expect(config.demoIntegrations).toBe(false);
    }
  });
});

describe('DATABASE_URL', () => {
  const cases: Array<[string, string]> = [
    [
      'postgres://u:p%ZZ@h/x',
      'DATABASE_URL: must be a postgres:// URL whose user name, password and database name are percent-encoded (each % followed by two hex digits)',
    ],
    [
      'postgres://u%E0:p@h/x',
      'DATABASE_URL: must be a postgres:// URL whose user name, password and database name are percent-encoded (each % followed by two hex digits)',
    ],
    [
      'postgresql://u:p@[::1',
      'DATABASE_URL: must be a postgres:// or postgresql:// URL that parses as a URL (postgres://user:password@host:5432/database)',
    ],
    [
      'postgres:///tidemark',
      'DATABASE_URL: must be a postgres:// URL naming a host (postgres://user:password@host:5432/database)',
    ],
    ['mysql://u:p@h/x', 'DATABASE_URL: must be a postgres:// or postgresql:// URL'],
    [
      'postgres://u:p w@h/x',
      'DATABASE_URL: must be a postgres:// or postgresql:// URL without spaces (percent-encode them as %20)',
    ],
  ];

  it('is refused at load time by the service and by migration:run alike, never showing the password', () => {
    for (const [url, problem] of cases) {
      expect(serviceProblems({ DATABASE_URL: url })).toStrictEqual([problem]);
      expect(problemsOf(() => loadDatabaseConfig({ DATABASE_URL: url }))).toStrictEqual([problem]);
    }
  });

  it('accepts encoded credentials, an IPv6 host and a Unix socket named by the host parameter', () => {
    for (const url of [
      'postgres://u:p%40ss%2Fw@db.internal:5432/tidemark',
      'postgresql://u:p@[::1]:5432/x',
      'postgres:///tidemark?host=/var/run/postgresql',
    ]) {
      expect(loadDatabaseConfig({ DATABASE_URL: url }).url).toBe(url);
    }
    expect(serviceProblems({ DATABASE_URL: 'postgres://u:p%ZZ@h/x' })).toStrictEqual([
      'DATABASE_URL: must be a postgres:// URL whose user name, password and database name are percent-encoded (each % followed by two hex digits)',
    ]);
  });
});

describe('HOST', () => {
  it('must be an IP address or a host name', () => {
    expect(serviceProblems({ HOST: 'not a host' })).toStrictEqual([
      'HOST: must be an IP address or a host name (got "not a host")',
    ]);
    expect(serviceProblems({ HOST: '[::1]' })).toStrictEqual([
      'HOST: must be an IP address or a host name (got "[::1]")',
    ]);
    expect(serviceProblems({ HOST: '999.1.1.1' })).toStrictEqual([
      'HOST: must be an IP address or a host name (got "999.1.1.1")',
    ]);
    expect(serviceProblems({ HOST: '-bad.example' })).toStrictEqual([
      'HOST: must be an IP address or a host name (got "-bad.example")',
    ]);
    const hosts = ['127.0.0.1', '::', '::1', 'localhost', 'api-1.internal.example', 'tidemark.'];
    expect(hosts.map((host) => loadConfig({ HOST: host }, '/').http.host)).toStrictEqual(hosts);
  });
});

describe('time zones', () => {
  it('refuses a fixed UTC offset for UPSTREAM_TIMEZONE and an integration zone, keeping IANA names', () => {
    const rule = 'must be an IANA time zone such as UTC or America/Chicago';
    expect(serviceProblems({ UPSTREAM_TIMEZONE: '+05:00' })).toStrictEqual([
      `UPSTREAM_TIMEZONE: ${rule}; "+05:00" is a fixed UTC offset, which ignores daylight saving`,
    ]);
    expect(serviceProblems({ UPSTREAM_TIMEZONE: '-0500' })).toStrictEqual([
      `UPSTREAM_TIMEZONE: ${rule}; "-0500" is a fixed UTC offset, which ignores daylight saving`,
    ]);
    expect(serviceProblems({ UPSTREAM_TIMEZONE: 'UTC+5' })).toStrictEqual([
      `UPSTREAM_TIMEZONE: ${rule}; "UTC+5" is a fixed UTC offset, which ignores daylight saving`,
    ]);
    expect(serviceProblems({ SCHEDULE_TIMEZONE: '+00:00' })).toStrictEqual([
      `SCHEDULE_TIMEZONE: ${rule}; "+00:00" is a fixed UTC offset, which ignores daylight saving`,
    ]);
    expect(
      serviceProblems({ INTEGRATIONS: '[{"sourceSystemId":1,"integrationName":"A","timeZone":"\u221205:00"}]' }),
    ).toStrictEqual([
      `INTEGRATIONS[0].timeZone: ${rule}; "\u221205:00" is a fixed UTC offset, which ignores daylight saving`,
    ]);
    const zones = ['UTC', 'Etc/GMT+5', 'EST', 'America/Chicago'];
    expect(zones.map((zone) => loadConfig({ UPSTREAM_TIMEZONE: zone }, '/').upstream.timeZone)).toStrictEqual(zones);
  });
});

describe('CORS_ORIGINS', () => {
  it('refuses an entry that is not an origin, naming it, and *', () => {
    const rule =
      'CORS_ORIGINS: must list origins: http:// or https://, a host and an optional port, with no path, query, fragment or user info';
    expect(
      serviceProblems({
        CORS_ORIGINS:
          'https://ok.example, http://a.example/path, https://b.example?x=1, https://c.example#f, https://u:p@d.example, ftp://e.example, f.example',
      }),
    ).toStrictEqual([
      `${rule} (got "http://a.example/path")`,
      `${rule} (got "https://b.example?x=1")`,
      `${rule} (got "https://c.example#f")`,
      `${rule} (got "https://u:p@d.example")`,
      `${rule} (got "ftp://e.example")`,
      `${rule} (got "f.example")`,
    ]);
    expect(serviceProblems({ CORS_ORIGINS: '*' })).toStrictEqual([
      'CORS_ORIGINS: must list origins; * is not allowed (the API takes credentials in headers)',
    ]);
  });

  it('keeps each origin as a browser sends it in Origin', () => {
    const config = loadConfig(
      { CORS_ORIGINS: 'https://Ops.Example/, http://a.example:8080, https://b.example:443,https://ops.example' },
      '/',
    );
    expect(config.access.corsOrigins).toStrictEqual([
      'https://ops.example',
      'http://a.example:8080',
      'https://b.example',
    ]);
  });
});

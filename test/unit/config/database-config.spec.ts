import { describe, expect, it } from 'vitest';
import { ConfigError, type Env } from '../../../src/config';
import { loadDatabaseConfig } from '../../../src/config/database-config';

function problemsOf(env: Env): string[] {
  try {
    loadDatabaseConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadDatabaseConfig', () => {
  it('reads DATABASE_URL and the pool settings, with the service defaults', () => {
    expect(loadDatabaseConfig({ DATABASE_URL: 'postgres://db/tidemark' })).toStrictEqual({
      url: 'postgres://db/tidemark',
      poolSize: 10,
      connectTimeoutMs: 5000,
    });
    expect(
      loadDatabaseConfig({ DATABASE_URL: 'postgresql://db/t', DB_POOL_SIZE: '3', DB_CONNECT_TIMEOUT_MS: '250' }),
    ).toStrictEqual({ url: 'postgresql://db/t', poolSize: 3, connectTimeoutMs: 250 });
    expect(loadDatabaseConfig({ DATABASE_URL: '' })).toStrictEqual({ url: null, poolSize: 10, connectTimeoutMs: 5000 });
  });

  it('neither demands nor checks any other variable, even in production', () => {
    expect(
      loadDatabaseConfig({
        NODE_ENV: 'production',
        DATABASE_URL: 'postgres://db/tidemark',
        UPSTREAM_BASE_URL: 'not a url',
        API_KEYS: '[',
        PORT: 'x',
        INTEGRATIONS: '{',
      }),
    ).toStrictEqual({ url: 'postgres://db/tidemark', poolSize: 10, connectTimeoutMs: 5000 });
  });

  it('reports each bad database variable on its own line, as the service does', () => {
    expect(problemsOf({ DATABASE_URL: 'mysql://db/t', DB_POOL_SIZE: '0', DB_CONNECT_TIMEOUT_MS: 'soon' })).toEqual([
      'DATABASE_URL: must be a postgres:// or postgresql:// URL',
      'DB_POOL_SIZE: must be an integer from 1 to 500 (got "0")',
      'DB_CONNECT_TIMEOUT_MS: must be an integer from 100 to 600000 (got "soon")',
    ]);
  });
});

import type { AppConfig } from './app-config';
import { loadConfig, type Env } from './load-config';

/** The variables the database settings come from. */
export const DATABASE_ENV_KEYS = ['DATABASE_URL', 'DB_POOL_SIZE', 'DB_CONNECT_TIMEOUT_MS'] as const;

/**
 * The database settings alone, for tools that only touch the database (`npm run migration:run`): `loadConfig`'s
 * rules and defaults applied to DATABASE_ENV_KEYS only. Every other variable is left out, so none is demanded
 * (UPSTREAM_BASE_URL, API_KEYS under NODE_ENV=production) and none can fail; the rest take defaults, which are valid.
 * A null `url` is left to the caller: only the service may start an embedded Postgres for it.
 * @throws ConfigError one line per bad database variable, naming it and the rule
 */
export function loadDatabaseConfig(env: Env): AppConfig['database'] {
  const database: Record<string, string | undefined> = {};
  for (const key of DATABASE_ENV_KEYS) database[key] = env[key];
  // No relative path is read from these variables, so the base directory is immaterial.
  return loadConfig(database, '/').database;
}

/** `loadDatabaseConfig` of the process environment (src/config is the only reader of `process.env`). */
export function loadDatabaseConfigFromProcess(): AppConfig['database'] {
  return loadDatabaseConfig(process.env);
}

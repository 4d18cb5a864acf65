import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import type { ApiKeyConfig, AppConfig, MisfirePolicy, UpstreamAuth, UpstreamFormat } from './app-config';
import { EnvironmentVariables } from './env.schema';
import { describe, readApiKeys } from './api-keys-config';
import { EVENT_ENV_KEYS, loadEventsConfig } from './events-config';
import { checkCronsFire, readIntegrations, type ScheduleDefaults } from './integrations-config';
import { readCorsOrigins } from './network-checks';

/** Thrown by `loadConfig`; `problems` holds one line per bad variable, naming it and the rule. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const DEFAULTS = {
  UPSTREAM_FORMAT: 'json',
  UPSTREAM_TIMEOUT_MS: 30_000,
  UPSTREAM_AUTH: 'none',
  UPSTREAM_TIMEZONE: 'UTC',
  UPSTREAM_MAX_BODY_BYTES: 1_048_576,
  SCHEDULE_CRON: '0 */5 * * * *',
  SCHEDULE_TIMEZONE: 'UTC',
  SCHEDULER_POLL_MS: 250,
  MISFIRE_THRESHOLD_MS: 60_000,
  MISFIRE_POLICY: 'fire_once_now',
  RUN_LEASE_MS: 30_000,
  MAX_CONCURRENT_RUNS: 32,
  SHUTDOWN_GRACE_MS: 25_000,
  RUN_HISTORY_DAYS: 30,
  HTTP_REQUEST_TIMEOUT_MS: 30_000,
  HTTP_MAX_CONNECTIONS: 1024,
  UPSTREAM_CONNECT_TIMEOUT_MS: 5_000,
  UPSTREAM_RETRY_MAX_ATTEMPTS: 4,
  UPSTREAM_RETRY_BASE_MS: 500,
  UPSTREAM_RETRY_MAX_MS: 30_000,
  UPSTREAM_BREAKER_THRESHOLD: 5,
  UPSTREAM_BREAKER_HALF_OPEN_MS: 60_000,
  UPSTREAM_TOKEN_REQUEST_FORMAT: 'json',
  DB_WRITE_RETRY_MS: 60_000,
  LOG_LEVEL: 'info',
  LOG_FORMAT: 'json',
  RATE_LIMIT_PER_MINUTE: 600,
  DB_POOL_SIZE: 10,
  DB_CONNECT_TIMEOUT_MS: 5_000,
  DATA_DIR: '.data',
  PORT: 3000,
  HOST: '0.0.0.0',
} as const;

export type Env = Readonly<Record<string, string | undefined>>;

/** Reads the process environment once; the only place in Tidemark that touches `process.env`. */
export function loadConfigFromProcess(): AppConfig {
  return loadConfig(process.env, process.cwd(), { terminal: process.stdout.isTTY === true });
}

/** What the process is attached to, which only changes how logs read. */
export interface ConfigContext {
  /** stdout is a terminal: a person is reading the logs as they come. */
  terminal?: boolean;
}

/**
 * Parses and validates configuration from environment variables.
 * Empty strings count as unset, as in most deployment tools, except UPSTREAM_TOKEN_GRANT_TYPE, where set-but-empty
 * means "send no grant_type" (Gravitate's token endpoints read none).
 * Every check runs before any problem is thrown, in a fixed order, so the problems list reads the same each time.
 * @param env variable name → value
 * @param cwd base for relative paths (INTEGRATIONS_FILE, DATA_DIR)
 * @throws ConfigError listing every problem, one line each, never echoing a secret's value
 */
export function loadConfig(env: Env, cwd: string, context: ConfigContext = {}): AppConfig {
  const { vars, problems } = validateVariables(env);
  const production = vars.NODE_ENV === 'production';
  checkProductionServices(vars, production, problems);
  const authKind = upstreamAuthKind(vars);
  checkUpstreamAuth(vars, authKind, problems);
  const scheduleDefaults = readScheduleDefaults(vars);
  const { integrations, demo } = readIntegrations(vars, cwd, problems, scheduleDefaults);
  checkCronsFire(vars, scheduleDefaults, integrations, problems);
  checkUpstreamLimits(vars, problems);
  const apiKeys = readApiKeys(vars.API_KEYS, problems);
  checkProductionAccess(vars, production, apiKeys, problems);
  const corsOrigins = readCorsOrigins(vars.CORS_ORIGINS, problems);
  const events = loadEventsConfig(env, problems);

  if (problems.length > 0) throw new ConfigError(problems);

  return {
    production,
    demoIntegrations: demo,
    http: { host: vars.HOST ?? DEFAULTS.HOST, port: vars.PORT ?? DEFAULTS.PORT },
    database: databaseSettings(vars),
    dataDir: resolve(cwd, vars.DATA_DIR ?? DEFAULTS.DATA_DIR),
    upstream: upstreamSettings(vars, upstreamAuth(vars, env, authKind)),
    schedule: scheduleSettings(vars, scheduleDefaults),
    httpLimits: {
      requestTimeoutMs: vars.HTTP_REQUEST_TIMEOUT_MS ?? DEFAULTS.HTTP_REQUEST_TIMEOUT_MS,
      maxConnections: vars.HTTP_MAX_CONNECTIONS ?? DEFAULTS.HTTP_MAX_CONNECTIONS,
    },
    dbWriteRetryMs: vars.DB_WRITE_RETRY_MS ?? DEFAULTS.DB_WRITE_RETRY_MS,
    observability: observabilitySettings(vars, production, context),
    access: accessSettings(vars, apiKeys, corsOrigins),
    authMode: authMode(vars, apiKeys),
    replicaId: vars.REPLICA_ID ?? `${hostname()}-${process.pid}`,
    integrations,
    events,
  };
}

/** Every variable Tidemark reads; each is a property of EnvironmentVariables. */
export const ENV_KEYS = [
  'NODE_ENV',
  'DATABASE_URL',
  'DB_POOL_SIZE',
  'DB_CONNECT_TIMEOUT_MS',
  'DATA_DIR',
  'UPSTREAM_BASE_URL',
  'UPSTREAM_FORMAT',
  'UPSTREAM_TIMEOUT_MS',
  'UPSTREAM_AUTH',
  'UPSTREAM_TOKEN',
  'UPSTREAM_USERNAME',
  'UPSTREAM_PASSWORD',
  'UPSTREAM_MAX_BODY_BYTES',
  'UPSTREAM_CONNECT_TIMEOUT_MS',
  'UPSTREAM_ATTEMPT_TIMEOUT_MS',
  'UPSTREAM_RETRY_MAX_ATTEMPTS',
  'UPSTREAM_RETRY_BASE_MS',
  'UPSTREAM_RETRY_MAX_MS',
  'UPSTREAM_BREAKER_THRESHOLD',
  'UPSTREAM_BREAKER_HALF_OPEN_MS',
  'UPSTREAM_CLIENT_ID',
  'UPSTREAM_CLIENT_SECRET',
  'UPSTREAM_SCOPE',
  'UPSTREAM_TOKEN_URL',
  'UPSTREAM_TOKEN_REQUEST_FORMAT',
  'UPSTREAM_TOKEN_GRANT_TYPE',
  'DB_WRITE_RETRY_MS',
  'UPSTREAM_TIMEZONE',
  'INTEGRATIONS',
  'INTEGRATIONS_FILE',
  'SCHEDULE_CRON',
  'SCHEDULE_TIMEZONE',
  'SCHEDULER_POLL_MS',
  'MISFIRE_THRESHOLD_MS',
  'MISFIRE_POLICY',
  'RUN_LEASE_MS',
  'MAX_CONCURRENT_RUNS',
  'SHUTDOWN_GRACE_MS',
  'RUN_HISTORY_DAYS',
  'HTTP_REQUEST_TIMEOUT_MS',
  'HTTP_MAX_CONNECTIONS',
  'REPLICA_ID',
  'LOG_LEVEL',
  'LOG_FORMAT',
  'STALE_AFTER_MS',
  'API_KEYS',
  'AUTH_DISABLED',
  'METRICS_PUBLIC',
  'DOCS_PUBLIC',
  'RATE_LIMIT_PER_MINUTE',
  'CORS_ORIGINS',
  'PORT',
  'HOST',
  ...EVENT_ENV_KEYS,
] as const;

/** The variables of ENV_KEYS that are set and not empty, as validated values, and one problem per failed rule. */
function validateVariables(env: Env): { vars: EnvironmentVariables; problems: string[] } {
  const raw: Record<string, string> = {};
  for (const key of ENV_KEYS) {
    const value = env[key];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const vars = plainToInstance(EnvironmentVariables, raw);
  const problems = validateSync(vars, { forbidUnknownValues: true }).flatMap((e) => describe(e, '', raw));
  return { vars, problems };
}

/** In production the embedded Postgres and the simulator are refused: both services must be named. */
function checkProductionServices(vars: EnvironmentVariables, production: boolean, problems: string[]): void {
  if (production && !vars.DATABASE_URL) {
    problems.push('DATABASE_URL: must be set when NODE_ENV=production (the embedded Postgres is for demo mode only)');
  }
  if (production && !vars.UPSTREAM_BASE_URL) {
    problems.push('UPSTREAM_BASE_URL: must be set when NODE_ENV=production (the simulator is for demo mode only)');
  }
}

function upstreamAuthKind(vars: EnvironmentVariables): UpstreamAuth['kind'] {
  return (vars.UPSTREAM_AUTH ?? DEFAULTS.UPSTREAM_AUTH) as UpstreamAuth['kind'];
}

/** Each UPSTREAM_AUTH kind needs its credentials, and the token settings must suit the kind. */
function checkUpstreamAuth(vars: EnvironmentVariables, authKind: UpstreamAuth['kind'], problems: string[]): void {
  if (authKind === 'bearer' && !vars.UPSTREAM_TOKEN) {
    problems.push('UPSTREAM_TOKEN: must be set when UPSTREAM_AUTH=bearer');
  }
  if (authKind === 'client_credentials') {
    if (!vars.UPSTREAM_CLIENT_ID)
      problems.push('UPSTREAM_CLIENT_ID: must be set when UPSTREAM_AUTH=client_credentials');
    if (!vars.UPSTREAM_CLIENT_SECRET)
      problems.push('UPSTREAM_CLIENT_SECRET: must be set when UPSTREAM_AUTH=client_credentials');
  }
  if (authKind === 'basic' || authKind === 'password') {
    if (!vars.UPSTREAM_USERNAME) problems.push(`UPSTREAM_USERNAME: must be set when UPSTREAM_AUTH=${authKind}`);
    if (vars.UPSTREAM_PASSWORD === undefined) {
      problems.push(`UPSTREAM_PASSWORD: must be set when UPSTREAM_AUTH=${authKind}`);
    }
  }
  if (authKind === 'password' && vars.UPSTREAM_TOKEN_REQUEST_FORMAT === 'json') {
    problems.push('UPSTREAM_TOKEN_REQUEST_FORMAT: must be form (or unset) when UPSTREAM_AUTH=password');
  }
  if (authKind !== 'client_credentials' && vars.UPSTREAM_TOKEN_GRANT_TYPE !== undefined) {
    problems.push('UPSTREAM_TOKEN_GRANT_TYPE: applies only when UPSTREAM_AUTH=client_credentials');
  }
}

function readScheduleDefaults(vars: EnvironmentVariables): ScheduleDefaults {
  return {
    cron: vars.SCHEDULE_CRON ?? DEFAULTS.SCHEDULE_CRON,
    timeZone: vars.SCHEDULE_TIMEZONE ?? DEFAULTS.SCHEDULE_TIMEZONE,
    misfirePolicy: (vars.MISFIRE_POLICY ?? DEFAULTS.MISFIRE_POLICY) as MisfirePolicy,
  };
}

/** Upstream settings that are valid alone but must agree with another, or with how the URL is used. */
function checkUpstreamLimits(vars: EnvironmentVariables, problems: string[]): void {
  const retryMaxMs = vars.UPSTREAM_RETRY_MAX_MS ?? DEFAULTS.UPSTREAM_RETRY_MAX_MS;
  if ((vars.UPSTREAM_RETRY_BASE_MS ?? DEFAULTS.UPSTREAM_RETRY_BASE_MS) > retryMaxMs) {
    problems.push(`UPSTREAM_RETRY_BASE_MS: must not exceed UPSTREAM_RETRY_MAX_MS (${retryMaxMs})`);
  }
  if (vars.UPSTREAM_BASE_URL !== undefined && /[?#]/.test(vars.UPSTREAM_BASE_URL)) {
    problems.push('UPSTREAM_BASE_URL: must not have a query string or fragment (the endpoint path is appended to it)');
  }
  const timeoutMs = vars.UPSTREAM_TIMEOUT_MS ?? DEFAULTS.UPSTREAM_TIMEOUT_MS;
  if (vars.UPSTREAM_ATTEMPT_TIMEOUT_MS !== undefined && vars.UPSTREAM_ATTEMPT_TIMEOUT_MS > timeoutMs) {
    problems.push(`UPSTREAM_ATTEMPT_TIMEOUT_MS: must not exceed UPSTREAM_TIMEOUT_MS (${timeoutMs})`);
  }
}

/** An empty key list would leave every route open: in production only AUTH_DISABLED=true may do that. */
function checkProductionAccess(
  vars: EnvironmentVariables,
  production: boolean,
  apiKeys: ApiKeyConfig[],
  problems: string[],
): void {
  if (!production || vars.AUTH_DISABLED === 'true') return;
  if (vars.API_KEYS === undefined) {
    problems.push('API_KEYS: must be set when NODE_ENV=production (or set AUTH_DISABLED=true to serve without keys)');
  } else if (apiKeys.length === 0 && !problems.some((p) => p.startsWith('API_KEYS'))) {
    problems.push(
      'API_KEYS: must list at least one key when NODE_ENV=production (or set AUTH_DISABLED=true to serve without keys)',
    );
  }
}

function databaseSettings(vars: EnvironmentVariables): AppConfig['database'] {
  return {
    url: vars.DATABASE_URL ?? null,
    poolSize: vars.DB_POOL_SIZE ?? DEFAULTS.DB_POOL_SIZE,
    connectTimeoutMs: vars.DB_CONNECT_TIMEOUT_MS ?? DEFAULTS.DB_CONNECT_TIMEOUT_MS,
  };
}

/**
 * The credentials of `authKind`, which `checkUpstreamAuth` has found present. The grant type is read from `env`
 * because an empty UPSTREAM_TOKEN_GRANT_TYPE is meaningful (send none) and the validated variables drop empties.
 */
function upstreamAuth(vars: EnvironmentVariables, env: Env, authKind: UpstreamAuth['kind']): UpstreamAuth {
  switch (authKind) {
    case 'bearer':
      return { kind: 'bearer', token: vars.UPSTREAM_TOKEN! };
    case 'basic':
      return { kind: 'basic', username: vars.UPSTREAM_USERNAME!, password: vars.UPSTREAM_PASSWORD! };
    case 'client_credentials':
      return {
        kind: 'client_credentials',
        clientId: vars.UPSTREAM_CLIENT_ID!,
        clientSecret: vars.UPSTREAM_CLIENT_SECRET!,
        scope: vars.UPSTREAM_SCOPE ?? null,
        tokenUrl: vars.UPSTREAM_TOKEN_URL ?? null,
        requestFormat: (vars.UPSTREAM_TOKEN_REQUEST_FORMAT ?? DEFAULTS.UPSTREAM_TOKEN_REQUEST_FORMAT) as
          'json' | 'form',
        ...(env.UPSTREAM_TOKEN_GRANT_TYPE === undefined ? {} : { grantType: env.UPSTREAM_TOKEN_GRANT_TYPE }),
      };
    case 'password':
      return {
        kind: 'password',
        username: vars.UPSTREAM_USERNAME!,
        password: vars.UPSTREAM_PASSWORD!,
        scope: vars.UPSTREAM_SCOPE ?? null,
        tokenUrl: vars.UPSTREAM_TOKEN_URL ?? null,
      };
    default:
      return { kind: 'none' };
  }
}

function upstreamSettings(vars: EnvironmentVariables, auth: UpstreamAuth): AppConfig['upstream'] {
  const timeoutMs = vars.UPSTREAM_TIMEOUT_MS ?? DEFAULTS.UPSTREAM_TIMEOUT_MS;
  return {
    baseUrl: vars.UPSTREAM_BASE_URL ?? null,
    format: (vars.UPSTREAM_FORMAT ?? DEFAULTS.UPSTREAM_FORMAT) as UpstreamFormat,
    timeoutMs,
    attemptTimeoutMs: vars.UPSTREAM_ATTEMPT_TIMEOUT_MS ?? Math.max(1, Math.floor(timeoutMs / 2)),
    auth,
    timeZone: vars.UPSTREAM_TIMEZONE ?? DEFAULTS.UPSTREAM_TIMEZONE,
    maxBodyBytes: vars.UPSTREAM_MAX_BODY_BYTES ?? DEFAULTS.UPSTREAM_MAX_BODY_BYTES,
    connectTimeoutMs: vars.UPSTREAM_CONNECT_TIMEOUT_MS ?? DEFAULTS.UPSTREAM_CONNECT_TIMEOUT_MS,
    retry: {
      maxAttempts: vars.UPSTREAM_RETRY_MAX_ATTEMPTS ?? DEFAULTS.UPSTREAM_RETRY_MAX_ATTEMPTS,
      baseMs: vars.UPSTREAM_RETRY_BASE_MS ?? DEFAULTS.UPSTREAM_RETRY_BASE_MS,
      maxMs: vars.UPSTREAM_RETRY_MAX_MS ?? DEFAULTS.UPSTREAM_RETRY_MAX_MS,
    },
    breaker: {
      threshold: vars.UPSTREAM_BREAKER_THRESHOLD ?? DEFAULTS.UPSTREAM_BREAKER_THRESHOLD,
      halfOpenAfterMs: vars.UPSTREAM_BREAKER_HALF_OPEN_MS ?? DEFAULTS.UPSTREAM_BREAKER_HALF_OPEN_MS,
    },
  };
}

function scheduleSettings(vars: EnvironmentVariables, defaults: ScheduleDefaults): AppConfig['schedule'] {
  return {
    defaultCron: defaults.cron,
    defaultTimeZone: defaults.timeZone,
    pollIntervalMs: vars.SCHEDULER_POLL_MS ?? DEFAULTS.SCHEDULER_POLL_MS,
    misfireThresholdMs: vars.MISFIRE_THRESHOLD_MS ?? DEFAULTS.MISFIRE_THRESHOLD_MS,
    defaultMisfirePolicy: defaults.misfirePolicy,
    leaseMs: vars.RUN_LEASE_MS ?? DEFAULTS.RUN_LEASE_MS,
    maxConcurrentRuns: vars.MAX_CONCURRENT_RUNS ?? DEFAULTS.MAX_CONCURRENT_RUNS,
    shutdownGraceMs: vars.SHUTDOWN_GRACE_MS ?? DEFAULTS.SHUTDOWN_GRACE_MS,
    runHistoryDays: vars.RUN_HISTORY_DAYS ?? DEFAULTS.RUN_HISTORY_DAYS,
  };
}

function observabilitySettings(
  vars: EnvironmentVariables,
  production: boolean,
  context: ConfigContext,
): AppConfig['observability'] {
  // Demo mode (an embedded database or the simulator) with a person at the terminal.
  const demoOnTerminal = context.terminal === true && !production && (!vars.DATABASE_URL || !vars.UPSTREAM_BASE_URL);
  return {
    logLevel: (vars.LOG_LEVEL ?? DEFAULTS.LOG_LEVEL) as AppConfig['observability']['logLevel'],
    logFormat: (vars.LOG_FORMAT ?? (demoOnTerminal ? 'pretty' : DEFAULTS.LOG_FORMAT)) as 'json' | 'pretty',
    // A person watching the demo wants runs and faults, not a line for every read the dashboard makes.
    readsAtDebug: demoOnTerminal,
    staleAfterMs: vars.STALE_AFTER_MS ?? null,
  };
}

function accessSettings(
  vars: EnvironmentVariables,
  apiKeys: ApiKeyConfig[],
  corsOrigins: string[],
): AppConfig['access'] {
  return {
    apiKeys,
    authDisabled: apiKeys.length === 0 || vars.AUTH_DISABLED === 'true',
    metricsPublic: vars.METRICS_PUBLIC !== 'false',
    docsPublic: vars.DOCS_PUBLIC !== 'false',
    rateLimitPerMinute: vars.RATE_LIMIT_PER_MINUTE ?? DEFAULTS.RATE_LIMIT_PER_MINUTE,
    corsOrigins,
  };
}

function authMode(vars: EnvironmentVariables, apiKeys: ApiKeyConfig[]): AppConfig['authMode'] {
  if (vars.AUTH_DISABLED === 'true') return 'disabled';
  return apiKeys.length > 0 ? 'keys' : 'open_demo';
}

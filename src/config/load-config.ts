import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { parse as parseLosslessJson, isLosslessNumber } from 'lossless-json';
import type { AppConfig, IntegrationConfig, MisfirePolicy, UpstreamAuth, UpstreamFormat } from './app-config';
import { integrationNameKey } from '../common/integration-name';
import { cronFiringProblem } from './value-checks';
import { EnvironmentVariables, IntegrationEntry } from './env.schema';
import { describe, quote, readApiKeys } from './api-keys-config';
import { EVENT_ENV_KEYS, loadEventsConfig } from './events-config';

/** Thrown by `loadConfig`; `problems` holds one line per bad variable, naming it and the rule. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** The two sample integrations that demo mode schedules every 10 s. */
export const DEMO_INTEGRATIONS: ReadonlyArray<{ sourceSystemId: number; integrationName: string; cron: string }> = [
  { sourceSystemId: 1, integrationName: 'Orders', cron: '*/10 * * * * *' },
  { sourceSystemId: 2, integrationName: 'Invoices', cron: '*/10 * * * * *' },
];

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
 * @param env variable name → value
 * @param cwd base for relative paths (INTEGRATIONS_FILE, DATA_DIR)
 * @throws ConfigError listing every problem, one line each, never echoing a secret's value
 */
export function loadConfig(env: Env, cwd: string, context: ConfigContext = {}): AppConfig {
  const raw: Record<string, string> = {};
  for (const key of ENV_KEYS) {
    const value = env[key];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const vars = plainToInstance(EnvironmentVariables, raw);
  const problems = validateSync(vars, { forbidUnknownValues: true }).flatMap((e) => describe(e, '', raw));

  const production = vars.NODE_ENV === 'production';
  // Demo mode (an embedded database or the simulator) with a person at the terminal.
  const demoOnTerminal = context.terminal === true && !production && (!vars.DATABASE_URL || !vars.UPSTREAM_BASE_URL);
  if (production && !vars.DATABASE_URL) {
    problems.push('DATABASE_URL: must be set when NODE_ENV=production (the embedded Postgres is for demo mode only)');
  }
  if (production && !vars.UPSTREAM_BASE_URL) {
    problems.push('UPSTREAM_BASE_URL: must be set when NODE_ENV=production (the simulator is for demo mode only)');
  }

  const authKind = (vars.UPSTREAM_AUTH ?? DEFAULTS.UPSTREAM_AUTH) as UpstreamAuth['kind'];
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

  const defaultCron = vars.SCHEDULE_CRON ?? DEFAULTS.SCHEDULE_CRON;
  const defaultTimeZone = vars.SCHEDULE_TIMEZONE ?? DEFAULTS.SCHEDULE_TIMEZONE;
  const defaultMisfirePolicy = (vars.MISFIRE_POLICY ?? DEFAULTS.MISFIRE_POLICY) as MisfirePolicy;
  const { integrations, demo } = readIntegrations(vars, cwd, problems, {
    cron: defaultCron,
    timeZone: defaultTimeZone,
    misfirePolicy: defaultMisfirePolicy,
  });
  checkCronsFire(vars, integrations, problems);

  if (
    (vars.UPSTREAM_RETRY_BASE_MS ?? DEFAULTS.UPSTREAM_RETRY_BASE_MS) >
    (vars.UPSTREAM_RETRY_MAX_MS ?? DEFAULTS.UPSTREAM_RETRY_MAX_MS)
  ) {
    problems.push(
      `UPSTREAM_RETRY_BASE_MS: must not exceed UPSTREAM_RETRY_MAX_MS (${vars.UPSTREAM_RETRY_MAX_MS ?? DEFAULTS.UPSTREAM_RETRY_MAX_MS})`,
    );
  }
  if (vars.UPSTREAM_BASE_URL !== undefined && /[?#]/.test(vars.UPSTREAM_BASE_URL)) {
    problems.push('UPSTREAM_BASE_URL: must not have a query string or fragment (the endpoint path is appended to it)');
  }
  const timeoutMs = vars.UPSTREAM_TIMEOUT_MS ?? DEFAULTS.UPSTREAM_TIMEOUT_MS;
  if (vars.UPSTREAM_ATTEMPT_TIMEOUT_MS !== undefined && vars.UPSTREAM_ATTEMPT_TIMEOUT_MS > timeoutMs) {
    problems.push(`UPSTREAM_ATTEMPT_TIMEOUT_MS: must not exceed UPSTREAM_TIMEOUT_MS (${timeoutMs})`);
  }
  const apiKeys = readApiKeys(vars.API_KEYS, problems);
  const authDisabledExplicitly = vars.AUTH_DISABLED === 'true';
  if (production && !authDisabledExplicitly) {
    // An empty list would leave every route open: in production only AUTH_DISABLED=true may do that.
    if (vars.API_KEYS === undefined) {
      problems.push('API_KEYS: must be set when NODE_ENV=production (or set AUTH_DISABLED=true to serve without keys)');
    } else if (apiKeys.length === 0 && !problems.some((p) => p.startsWith('API_KEYS'))) {
      problems.push(
        'API_KEYS: must list at least one key when NODE_ENV=production (or set AUTH_DISABLED=true to serve without keys)',
      );
    }
  }

  // Events: outbox, webhooks and the live stream (src/config/events-config.ts).
  const events = loadEventsConfig(env, problems);

  if (problems.length > 0) throw new ConfigError(problems);

  const auth: UpstreamAuth =
    authKind === 'bearer'
      ? { kind: 'bearer', token: vars.UPSTREAM_TOKEN! }
      : authKind === 'basic'
        ? { kind: 'basic', username: vars.UPSTREAM_USERNAME!, password: vars.UPSTREAM_PASSWORD! }
        : authKind === 'client_credentials'
          ? {
              kind: 'client_credentials',
              clientId: vars.UPSTREAM_CLIENT_ID!,
              clientSecret: vars.UPSTREAM_CLIENT_SECRET!,
              scope: vars.UPSTREAM_SCOPE ?? null,
              tokenUrl: vars.UPSTREAM_TOKEN_URL ?? null,
              requestFormat: (vars.UPSTREAM_TOKEN_REQUEST_FORMAT ?? DEFAULTS.UPSTREAM_TOKEN_REQUEST_FORMAT) as
                'json' | 'form',
              ...(env.UPSTREAM_TOKEN_GRANT_TYPE === undefined ? {} : { grantType: env.UPSTREAM_TOKEN_GRANT_TYPE }),
            }
          : authKind === 'password'
            ? {
                kind: 'password',
                username: vars.UPSTREAM_USERNAME!,
                password: vars.UPSTREAM_PASSWORD!,
                scope: vars.UPSTREAM_SCOPE ?? null,
                tokenUrl: vars.UPSTREAM_TOKEN_URL ?? null,
              }
            : { kind: 'none' };

  return {
    production,
    demoIntegrations: demo,
    http: { host: vars.HOST ?? DEFAULTS.HOST, port: vars.PORT ?? DEFAULTS.PORT },
    database: {
      url: vars.DATABASE_URL ?? null,
      poolSize: vars.DB_POOL_SIZE ?? DEFAULTS.DB_POOL_SIZE,
      connectTimeoutMs: vars.DB_CONNECT_TIMEOUT_MS ?? DEFAULTS.DB_CONNECT_TIMEOUT_MS,
    },
    dataDir: resolve(cwd, vars.DATA_DIR ?? DEFAULTS.DATA_DIR),
    upstream: {
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
    },
    schedule: {
      defaultCron,
      defaultTimeZone,
      pollIntervalMs: vars.SCHEDULER_POLL_MS ?? DEFAULTS.SCHEDULER_POLL_MS,
      misfireThresholdMs: vars.MISFIRE_THRESHOLD_MS ?? DEFAULTS.MISFIRE_THRESHOLD_MS,
      defaultMisfirePolicy,
      leaseMs: vars.RUN_LEASE_MS ?? DEFAULTS.RUN_LEASE_MS,
      maxConcurrentRuns: vars.MAX_CONCURRENT_RUNS ?? DEFAULTS.MAX_CONCURRENT_RUNS,
      shutdownGraceMs: vars.SHUTDOWN_GRACE_MS ?? DEFAULTS.SHUTDOWN_GRACE_MS,
      runHistoryDays: vars.RUN_HISTORY_DAYS ?? DEFAULTS.RUN_HISTORY_DAYS,
    },
    httpLimits: {
      requestTimeoutMs: vars.HTTP_REQUEST_TIMEOUT_MS ?? DEFAULTS.HTTP_REQUEST_TIMEOUT_MS,
      maxConnections: vars.HTTP_MAX_CONNECTIONS ?? DEFAULTS.HTTP_MAX_CONNECTIONS,
    },
    dbWriteRetryMs: vars.DB_WRITE_RETRY_MS ?? DEFAULTS.DB_WRITE_RETRY_MS,
    observability: {
      logLevel: (vars.LOG_LEVEL ?? DEFAULTS.LOG_LEVEL) as AppConfig['observability']['logLevel'],
      logFormat: (vars.LOG_FORMAT ?? (demoOnTerminal ? 'pretty' : DEFAULTS.LOG_FORMAT)) as 'json' | 'pretty',
      // A person watching the demo wants runs and faults, not a line for every read the dashboard makes.
      readsAtDebug: demoOnTerminal,
      staleAfterMs: vars.STALE_AFTER_MS ?? null,
    },
    access: {
      apiKeys,
      authDisabled: apiKeys.length === 0 || authDisabledExplicitly,
      metricsPublic: vars.METRICS_PUBLIC !== 'false',
      docsPublic: vars.DOCS_PUBLIC !== 'false',
      rateLimitPerMinute: vars.RATE_LIMIT_PER_MINUTE ?? DEFAULTS.RATE_LIMIT_PER_MINUTE,
      corsOrigins: vars.CORS_ORIGINS
        ? vars.CORS_ORIGINS.split(',')
            .map((o) => o.trim())
            .filter(Boolean)
        : [],
    },
    authMode: authDisabledExplicitly ? 'disabled' : apiKeys.length > 0 ? 'keys' : 'open_demo',
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

function readIntegrations(
  vars: EnvironmentVariables,
  cwd: string,
  problems: string[],
  defaults: { cron: string; timeZone: string; misfirePolicy: MisfirePolicy },
): { integrations: IntegrationConfig[]; demo: boolean } {
  let source: string;
  let text: string;
  if (vars.INTEGRATIONS !== undefined && vars.INTEGRATIONS_FILE !== undefined) {
    problems.push('INTEGRATIONS_FILE: must not be set together with INTEGRATIONS (choose one)');
    return { integrations: [], demo: false };
  }
  if (vars.INTEGRATIONS !== undefined) {
    source = 'INTEGRATIONS';
    text = vars.INTEGRATIONS;
  } else if (vars.INTEGRATIONS_FILE !== undefined) {
    source = 'INTEGRATIONS_FILE';
    try {
      text = readFileSync(resolve(cwd, vars.INTEGRATIONS_FILE), 'utf8');
    } catch (error) {
      problems.push(
        `INTEGRATIONS_FILE: must name a readable file (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`,
      );
      return { integrations: [], demo: false };
    }
  } else if (vars.UPSTREAM_BASE_URL !== undefined) {
    // The demo samples are for the bundled simulator; against a real upstream they would start real syncs.
    problems.push(
      'INTEGRATIONS: must be set (or INTEGRATIONS_FILE) when UPSTREAM_BASE_URL is set; the demo samples only run against the bundled simulator',
    );
    return { integrations: [], demo: false };
  } else {
    const integrations = DEMO_INTEGRATIONS.map((demo) => ({
      ...demo,
      timeZone: defaults.timeZone,
      enabled: true,
      misfirePolicy: defaults.misfirePolicy,
    }));
    return { integrations, demo: true };
  }

  let parsed: unknown;
  try {
    // Lossless, so that 1e400 or 2147483648.0 are judged as written rather than after float rounding.
    parsed = parseLosslessJson(text, undefined, (digits) => {
      const n = Number(digits);
      return Number.isSafeInteger(n) && /^-?\d+$/.test(digits) ? n : digits;
    });
  } catch (error) {
    problems.push(`${source}: must be valid JSON (${(error as Error).message})`);
    return { integrations: [], demo: false };
  }
  if (!Array.isArray(parsed)) {
    problems.push(`${source}: must be a JSON array of {"sourceSystemId", "integrationName", ...} objects`);
    return { integrations: [], demo: false };
  }
  const before = problems.length;
  parsed.forEach((item, index) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      problems.push(`${source}[${index}]: must be an object`);
      return;
    }
    for (const [key, value] of Object.entries(item as Record<string, unknown>)) {
      // A number too large or not integral stays text, so the integer rule rejects it by name.
      if (isLosslessNumber(value)) (item as Record<string, unknown>)[key] = value.toString();
      if (!KNOWN_INTEGRATION_KEYS.has(key)) problems.push(`${source}[${index}].${key}: is not a known setting`);
    }
  });
  // The entries are plain JSON with no transforms to apply, so they become IntegrationEntry instances by assignment:
  // class-transformer would walk every property of every entry only to reach the same objects.
  const entries = (parsed as unknown[]).map((item) => Object.assign(new IntegrationEntry(), item));
  entries.forEach((entry, index) => {
    const item: unknown = parsed[index];
    if (item === null || typeof item !== 'object' || Array.isArray(item)) return;
    for (const error of validateSync(entry)) problems.push(...describe(error, `${source}[${index}]`, {}));
  });
  if (problems.length > before) return { integrations: [], demo: false };
  const list = { items: entries };

  const seen = new Map<string, number>();
  const integrations: IntegrationConfig[] = [];
  list.items.forEach((entry, index) => {
    // The upstream compares IntegrationName as SQL Server does, so "Orders", "ＯＲＤＥＲＳ" and "Orders " are one
    // integration; the identity check of its answers uses the same key.
    const key = `${entry.sourceSystemId}\u0000${integrationNameKey(entry.integrationName)}`;
    const first = seen.get(key);
    if (first !== undefined) {
      problems.push(
        `${source}[${index}]: duplicates ${source}[${first}] (sourceSystemId ${entry.sourceSystemId}, integrationName ${JSON.stringify(entry.integrationName)}; names compare case-insensitively, ignoring trailing spaces)`,
      );
      return;
    }
    seen.set(key, index);
    integrations.push({
      sourceSystemId: entry.sourceSystemId,
      integrationName: entry.integrationName,
      cron: entry.cron ?? defaults.cron,
      timeZone: entry.timeZone ?? defaults.timeZone,
      enabled: entry.enabled ?? true,
      misfirePolicy: entry.misfirePolicy ?? defaults.misfirePolicy,
    });
  });
  return { integrations, demo: false };
}

/**
 * Every schedule must fire within the horizon, evaluated as the scheduler will: SCHEDULE_CRON in SCHEDULE_TIMEZONE,
 * and each integration's cron in its zone. A problem names the integration when its own cron is at fault.
 */
function checkCronsFire(vars: EnvironmentVariables, integrations: IntegrationConfig[], problems: string[]): void {
  if (problems.length > 0) return;
  const now = new Date();
  const defaultCron = vars.SCHEDULE_CRON ?? DEFAULTS.SCHEDULE_CRON;
  const defaultZone = vars.SCHEDULE_TIMEZONE ?? DEFAULTS.SCHEDULE_TIMEZONE;
  const defaultProblem = cronFiringProblem(defaultCron, defaultZone, now);
  if (defaultProblem) problems.push(`SCHEDULE_CRON: ${defaultProblem} in ${defaultZone} (got ${quote(defaultCron)})`);
  const source = vars.INTEGRATIONS !== undefined ? 'INTEGRATIONS' : 'INTEGRATIONS_FILE';
  const checked = new Set<string>([`${defaultCron}\u0000${defaultZone}`]);
  integrations.forEach((integration, index) => {
    const key = `${integration.cron}\u0000${integration.timeZone}`;
    if (checked.has(key)) return;
    checked.add(key);
    const problem = cronFiringProblem(integration.cron, integration.timeZone, now);
    if (problem)
      problems.push(`${source}[${index}].cron: ${problem} in ${integration.timeZone} (got ${quote(integration.cron)})`);
  });
}

const KNOWN_INTEGRATION_KEYS = new Set([
  'sourceSystemId',
  'integrationName',
  'cron',
  'timeZone',
  'enabled',
  'misfirePolicy',
]);

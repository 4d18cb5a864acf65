import type { UpstreamAuth } from '../upstream/upstream.client';
import type { EventsConfig } from './events-config';

/**
 * The typed configuration, built once at boot by `loadConfig` from environment variables.
 * Nothing outside `src/config` reads `process.env`; everything else receives this object.
 */

export type UpstreamFormat = 'json' | 'xml';
export type MisfirePolicy = 'fire_once_now' | 'skip';

/** How Tidemark authenticates to the upstream: the upstream client's own type, filled from UPSTREAM_AUTH and friends. */
export type { UpstreamAuth };

/** A facade API key: only its SHA-256 is configured, never the key itself. */
export interface ApiKeyConfig {
  name: string;
  /** Lower-case hex SHA-256 of the key (the `sha256:` prefix removed). */
  sha256Hex: string;
  scopes: Array<'read' | 'operate'>;
}

/** One (source system, integration) pair that Tidemark calls IntegrationStart for on a schedule. */
export interface IntegrationConfig {
  /** The upstream's SourceSystemId, a .NET int (0 .. 2147483647). */
  sourceSystemId: number;
  /** The upstream's IntegrationName, sent as is. */
  integrationName: string;
  /** Cron with the seconds field first (6 fields; 5 fields mean second 0), evaluated in `timeZone`. */
  cron: string;
  /** IANA zone the cron is evaluated in. */
  timeZone: string;
  enabled: boolean;
  /** What to do on start when every replica was down at a fire time. */
  misfirePolicy: MisfirePolicy;
}

export interface AppConfig {
  /** True when NODE_ENV=production: demo fallbacks (embedded Postgres, simulator) are refused. */
  production: boolean;
  /** True when the integrations are the built-in demo samples (no INTEGRATIONS / INTEGRATIONS_FILE). */
  demoIntegrations: boolean;
  http: { host: string; port: number };
  database: {
    /** Postgres URL; null means: start an embedded Postgres under `dataDir` (demo mode only). */
    url: string | null;
    /** Pool size per replica. */
    poolSize: number;
    /** Max wait for a pooled connection or a new connection, ms. */
    connectTimeoutMs: number;
  };
  /** Where demo mode keeps its embedded Postgres data, relative paths against the working directory. */
  dataDir: string;
  upstream: {
    /** Base URL; null means: start the bundled simulator (demo mode only). */
    baseUrl: string | null;
    format: UpstreamFormat;
    /** Deadline for one IntegrationStart call, body included, ms. */
    timeoutMs: number;
    auth: UpstreamAuth;
    /** IANA zone for upstream dates that carry no offset. */
    timeZone: string;
    /** Largest response body accepted, bytes. */
    maxBodyBytes: number;
    /** Deadline for one HTTP attempt, ms; at most `timeoutMs`. Default: half of `timeoutMs`, so a timeout can be retried once. */
    attemptTimeoutMs: number;
    /** Deadline for the TCP (and TLS) connect, ms. */
    connectTimeoutMs: number;
    retry: {
      /** Attempts per run, the first included. */
      maxAttempts: number;
      /** Backoff base, ms: attempt n waits a random time in [0, min(maxMs, baseMs * 2^(n-1))] (full jitter). */
      baseMs: number;
      maxMs: number;
    };
    breaker: {
      /** Consecutive failed runs that open the breaker. */
      threshold: number;
      /** How long the breaker stays open before one trial run, ms. */
      halfOpenAfterMs: number;
    };
  };
  schedule: {
    defaultCron: string;
    defaultTimeZone: string;
    /** How often each replica looks for due integrations, ms. */
    pollIntervalMs: number;
    /** A fire time later than this when it is finally claimed counts as missed, ms. */
    misfireThresholdMs: number;
    defaultMisfirePolicy: MisfirePolicy;
    /** How long a run's lease lasts without renewal, ms; a replica that dies holds it at most this long. */
    leaseMs: number;
    /** At most this many runs go on at once in one replica. */
    maxConcurrentRuns: number;
    /** How long SIGTERM waits for in-flight runs before marking them interrupted, ms. */
    shutdownGraceMs: number;
    /** Days of run history kept. */
    runHistoryDays: number;
  };
  /** Bounds on what one HTTP client can hold of the facade. */
  httpLimits: {
    /** Headers and body must have arrived within this, ms; otherwise 408 and the connection closes. */
    requestTimeoutMs: number;
    /** Open sockets at most; further connections are dropped until some close. */
    maxConnections: number;
  };
  /** How long a run keeps retrying its final write while the database is down, ms. */
  dbWriteRetryMs: number;
  observability: {
    logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
    logFormat: 'json' | 'pretty';
    /** Successful GETs are logged at debug instead of info (demo mode on a terminal). */
    readsAtDebug: boolean;
    /** Integrations whose last success is older than this are reported stale; null means 3x their interval. */
    staleAfterMs: number | null;
  };
  access: {
    apiKeys: ApiKeyConfig[];
    /** True when AUTH_DISABLED=true was set explicitly, or outside production without API_KEYS (the image sets production). */
    authDisabled: boolean;
    metricsPublic: boolean;
    docsPublic: boolean;
    rateLimitPerMinute: number;
    /** Allowed CORS origins; empty means CORS is off. */
    corsOrigins: string[];
  };
  /**
   * Why requests are or are not checked for a key: `keys` (API_KEYS lists at least one), `disabled`
   * (AUTH_DISABLED=true), `open_demo` (outside production, no keys configured).
   */
  authMode: 'keys' | 'disabled' | 'open_demo';
  /** Identifies this replica in leases and run rows. */
  replicaId: string;
  integrations: IntegrationConfig[];
  /** Events: the outbox, webhooks and the live stream. */
  events: EventsConfig;
}

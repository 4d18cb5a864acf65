import { join } from 'node:path';
import { Logger, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance } from 'fastify';
import { Logger as PinoNestLogger, PinoLogger, type Params } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { AppModule } from './app.module';
import type { AppConfig } from './config';
import { databaseUnreachable } from './config/boot-failure';
import { ApiKeyAuthenticator } from './http/auth/api-key.authenticator';
import { protectDocs } from './http/auth/docs-access';
import { CORS_EXPOSED_HEADERS, problemServerOptions, refuseConnect } from './http/framework-errors';
import { ProblemDetailsFilter } from './http/problem-details.filter';
import { FastReadPath } from './http/fast-read';
import { RouteMethods, applyHttpConventions } from './http/http-conventions';
import { KnownQueryInterceptor } from './http/known-query.interceptor';
import { setupOpenApi } from './http/openapi';
import { registerSecurityHeaders } from './http/security-headers';
import { ANSWER_WINDOW_MS, capConnections, closeConnectionsWithin, serverLimitOptions } from './http/server-limits';
import { createValidationPipe } from './http/validation';
import { ShutdownCoordinator } from './lifecycle/shutdown.coordinator';
import { REQUEST_ID_HEADER, createLoggerParams, createReadLineWriter, requestIdFor } from './observability/logging';
import { createDataSource, runMigrationsLocked } from './persistence/data-source';

/** A started Tidemark: the Nest application plus whatever demo mode started for it. */
export interface TidemarkApp {
  app: NestFastifyApplication;
  /** The upstream base URL in use (the simulator's in demo mode). */
  upstreamBaseUrl: string;
  /** The database URL in use (the embedded Postgres's in demo mode). */
  databaseUrl: string;
  /** Drains runs (readiness 503 meanwhile), closes the application, then the demo resources. */
  close(signal?: string): Promise<void>;
}

/** Options of {@link createTidemarkApp}. */
export interface TidemarkAppOptions {
  /** A Nest logger to use instead of pino; `false` silences logging (unless `logDestination` is given). */
  logger?: LoggerService | false;
  /** Where pino writes its JSON lines instead of stdout. */
  logDestination?: DestinationStream;
}

const DEMO_DATABASE = 'tidemark';

/** Releases of what the boot started, pushed in start order and run in reverse. */
type Cleanups = Array<() => Promise<void>>;

/** The loggers chosen for one app: pino's parameters, and the Nest logger in effect. */
interface BootLogging {
  /** Nothing is logged at all. */
  silent: boolean;
  loggerParams: Params;
  pinoLogger: PinoNestLogger;
  appLogger: LoggerService | false;
}

/**
 * Builds the application from validated config: connects to Postgres (starting an embedded one under
 * `config.dataDir` when no DATABASE_URL is set), applies migrations under an advisory lock, starts the bundled
 * simulator when no UPSTREAM_BASE_URL is set, and wires Nest on Fastify. Does not listen.
 * @throws the driver's error when the database can't be reached or migrated
 */
export async function createTidemarkApp(config: AppConfig, options: TidemarkAppOptions = {}): Promise<TidemarkApp> {
  const logging = installLogging(config, options);
  const log = new Logger('Bootstrap');
  const cleanups: Cleanups = [];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) await step().catch(() => undefined);
  };
  try {
    const databaseUrl = await resolveDatabaseUrl(config, log, cleanups);
    const upstreamBaseUrl = await resolveUpstreamBaseUrl(config, log, cleanups);
    if (config.demoIntegrations) {
      log.warn('DEMO MODE: no INTEGRATIONS, scheduling the two sample integrations every 10 s');
    }
    const dataSource = await openMigratedDataSource(config, databaseUrl, log, cleanups);
    // Cached hot reads are answered before Fastify routes them, or (with CORS) before Nest's middleware; armed once
    // the app is initialized.
    const fastReads = new FastReadPath();
    const app = await createNestApp(config, logging, fastReads, { upstreamBaseUrl, dataSource });
    const fastify = app.getHttpAdapter().getInstance();
    configureFastify(fastify, config, fastReads);
    await configureHttpPipeline(app, fastify, config);
    await app.init();
    await fastReads.arm(app, config, logging.silent ? null : createReadLineWriter(config, logging.loggerParams));
    return { app, upstreamBaseUrl, databaseUrl, close: closerFor(app, fastify, fastReads, config, cleanup) };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/** Picks the Nest logger for `options` and installs it as Nest's static logger. */
function installLogging(config: AppConfig, options: TidemarkAppOptions): BootLogging {
  const silent = options.logger === false && !options.logDestination;
  const loggerParams = createLoggerParams(config, { destination: options.logDestination, silent });
  // Nest's own logger only exists once the app does; what happens before (embedded Postgres, migrations) is logged
  // through the same pino root, so that every line is JSON.
  const pinoLogger = new PinoNestLogger(new PinoLogger(loggerParams), loggerParams);
  const appLogger: LoggerService | false = silent
    ? false
    : options.logger && !options.logDestination
      ? options.logger
      : pinoLogger;
  Logger.overrideLogger(appLogger);
  return { silent, loggerParams, pinoLogger, appLogger };
}

/** DATABASE_URL, or in demo mode the URL of a database on an embedded Postgres started here. */
async function resolveDatabaseUrl(config: AppConfig, log: Logger, cleanups: Cleanups): Promise<string> {
  if (config.database.url) return config.database.url;
  const dataDir = join(config.dataDir, 'postgres');
  log.warn(`DEMO MODE: no DATABASE_URL, starting an embedded Postgres with data in ${dataDir}`);
  // Demo-only modules load on demand, so a production start never loads or pays for them.
  const { startEmbeddedPostgres } = await import('./demo/embedded-postgres.js');
  const pg = await startEmbeddedPostgres({ dataDir });
  cleanups.push(() => pg.stop());
  return ensureDatabase(pg.url, DEMO_DATABASE);
}

/** UPSTREAM_BASE_URL, or in demo mode the URL of the bundled simulator started here. */
async function resolveUpstreamBaseUrl(config: AppConfig, log: Logger, cleanups: Cleanups): Promise<string> {
  if (config.upstream.baseUrl) return config.upstream.baseUrl;
  // Keyset ids start from the clock so that they keep rising across restarts, and beyond 2^53 so that the
  // demo shows them served exactly.
  const { UpstreamSimulator } = await import('./demo/simulator/upstream-simulator.js');
  const simulator = new UpstreamSimulator({ pkStart: BigInt(Date.now()) * 10_000n });
  const upstreamBaseUrl = await simulator.start(0, '127.0.0.1');
  cleanups.push(() => simulator.stop());
  log.warn(`DEMO MODE: no UPSTREAM_BASE_URL, the bundled upstream simulator answers at ${upstreamBaseUrl}`);
  return upstreamBaseUrl;
}

/** Connects to `databaseUrl` and applies pending migrations under the advisory lock. */
async function openMigratedDataSource(
  config: AppConfig,
  databaseUrl: string,
  log: Logger,
  cleanups: Cleanups,
): Promise<DataSource> {
  const dataSource = createDataSource({
    url: databaseUrl,
    poolSize: config.database.poolSize,
    connectTimeoutMs: config.database.connectTimeoutMs,
  });
  await dataSource.initialize().catch((error: unknown) => {
    throw config.database.url ? databaseUnreachable(config.database.url, error) : error;
  });
  cleanups.push(async () => {
    if (dataSource.isInitialized) await dataSource.destroy();
  });
  const applied = await runMigrationsLocked(dataSource);
  if (applied.length > 0) log.log(`applied migrations: ${applied.join(', ')}`);
  return dataSource;
}

/** The Fastify adapter: the fast-read server, request limits, request ids and framework errors as problem+json. */
function createFastifyAdapter(config: AppConfig, fastReads: FastReadPath): FastifyAdapter {
  const adapter: FastifyAdapter = new FastifyAdapter({
    serverFactory: fastReads.serverFactory,
    // Names are up to 256 characters, and a percent-encoded non-ASCII character takes up to 12.
    routerOptions: { maxParamLength: 4096 },
    bodyLimit: 64 * 1024,
    ...serverLimitOptions(config),
    // One id per request for Fastify, pino-http's log lines and the echoed X-Request-Id.
    genReqId: requestIdFor,
    // Bad percent-encoding, over-long parameters and unparsable requests as problem+json too.
    ...problemServerOptions({
      corsOrigins: config.access.corsOrigins,
      responseInProgress: fastReads.responseInProgress,
      fixedHeaders: fastReads.fixedHeaders,
    }),
  });
  // Before NestFactory.create, as FastReadPath.hook requires: ahead of the middleware Nest registers.
  adapter.getInstance().addHook('onRequest', fastReads.hook);
  return adapter;
}

/** Creates the Nest application on Fastify and hands its logs to the chosen logger. */
async function createNestApp(
  config: AppConfig,
  logging: BootLogging,
  fastReads: FastReadPath,
  resources: { upstreamBaseUrl: string; dataSource: DataSource },
): Promise<NestFastifyApplication> {
  const { appLogger, pinoLogger, loggerParams } = logging;
  const adapter = createFastifyAdapter(config, fastReads);
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.register({ config, ...resources, loggerParams }),
    adapter,
    // Nest's default body parsers include url-encoded forms. Every body the API reads is JSON: applyHttpConventions
    // registers the one JSON parser, and any other type is refused 415.
    { logger: appLogger, bufferLogs: appLogger !== false, bodyParser: false },
  );
  if (appLogger === pinoLogger) app.useLogger(app.get(PinoNestLogger));
  else app.flushLogs();
  return app;
}

/** Fastify-level settings that need no Nest: CONNECT refused, connections capped, text/plain refused, ids echoed. */
function configureFastify(fastify: FastifyInstance, config: AppConfig, fastReads: FastReadPath): void {
  fastify.server.on('connect', refuseConnect(fastReads.fixedHeaders));
  // Fastify's own text/plain parser would hand a JSON document sent as text to validation as a string.
  fastify.removeContentTypeParser('text/plain');
  capConnections(fastify.server, config);
  fastify.addHook('onRequest', async (request, reply) => {
    void reply.header(REQUEST_ID_HEADER, request.id);
  });
}

/**
 * Security headers, HTTP conventions, CORS, docs access, validation, error rendering and query checks. Fastify runs
 * hooks in the order they are added, so the order of these steps is part of the behaviour.
 */
async function configureHttpPipeline(
  app: NestFastifyApplication,
  fastify: FastifyInstance,
  config: AppConfig,
): Promise<void> {
  // A compact set for the JSON API, helmet's full set for the Swagger UI (src/http/security-headers.ts).
  await registerSecurityHeaders(app);
  const routes = new RouteMethods();
  applyHttpConventions(app, routes);
  enableCors(app, config);
  protectDocs(fastify, config, app.get(ApiKeyAuthenticator));
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new ProblemDetailsFilter(routes));
  app.useGlobalInterceptors(new KnownQueryInterceptor(setupOpenApi(app, config)));
}

/** CORS for the configured origins only; none configured means no CORS headers at all. */
function enableCors(app: NestFastifyApplication, config: AppConfig): void {
  if (config.access.corsOrigins.length === 0) return;
  app.enableCors({
    origin: config.access.corsOrigins,
    methods: ['GET', 'POST'],
    allowedHeaders: ['Authorization', 'X-API-Key', 'Content-Type', 'X-Request-Id', 'If-None-Match'],
    exposedHeaders: CORS_EXPOSED_HEADERS,
    maxAge: 600,
  });
}

/** {@link TidemarkApp.close}: drain, close the app, then release what the boot started. */
function closerFor(
  app: NestFastifyApplication,
  fastify: FastifyInstance,
  fastReads: FastReadPath,
  config: AppConfig,
  cleanup: () => Promise<void>,
): (signal?: string) => Promise<void> {
  return async (signal?: string) => {
    const graceEndsAt = Date.now() + config.schedule.shutdownGraceMs;
    fastify.server.closeIdleConnections();
    let stopClosing = () => {};
    try {
      await app.get(ShutdownCoordinator).drain(signal);
      // Every run's end is recorded now, and the answer of a manual run is on its way: connections are destroyed at
      // the end of the grace period, or ANSWER_WINDOW_MS after the drain if that is later, so that those answers
      // reach their clients. No client holds the shutdown past that, whatever it sends or doesn't.
      const answerMs = Math.max(graceEndsAt - Date.now(), ANSWER_WINDOW_MS);
      stopClosing = closeConnectionsWithin(fastify.server, answerMs);
      // From here Fastify answers every request, 503 while it closes.
      fastReads.disarm();
      await app.close();
      await cleanup();
    } finally {
      stopClosing();
    }
  };
}

/** Creates `name` on the server of `adminUrl` if missing; returns the URL of that database. */
async function ensureDatabase(adminUrl: string, name: string): Promise<string> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

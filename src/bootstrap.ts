import { join } from 'node:path';
import { Logger, type LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger as PinoNestLogger, PinoLogger } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import { Client } from 'pg';
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
import { capConnections, closeConnectionsWithin, serverLimitOptions } from './http/server-limits';
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

const DEMO_DATABASE = 'tidemark';

/**
 * Builds the application from validated config: connects to Postgres (starting an embedded one under
 * `config.dataDir` when no DATABASE_URL is set), applies migrations under an advisory lock, starts the bundled
 * simulator when no UPSTREAM_BASE_URL is set, and wires Nest on Fastify. Does not listen.
 * @throws the driver's error when the database can't be reached or migrated
 */
export async function createTidemarkApp(
  config: AppConfig,
  options: {
    /** A Nest logger to use instead of pino; `false` silences logging (unless `logDestination` is given). */
    logger?: LoggerService | false;
    /** Where pino writes its JSON lines instead of stdout. */
    logDestination?: DestinationStream;
  } = {},
): Promise<TidemarkApp> {
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
  const log = new Logger('Bootstrap');
  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) await step().catch(() => undefined);
  };
  try {
    let databaseUrl: string;
    if (config.database.url) {
      databaseUrl = config.database.url;
    } else {
      const dataDir = join(config.dataDir, 'postgres');
      log.warn(`DEMO MODE: no DATABASE_URL, starting an embedded Postgres with data in ${dataDir}`);
      // Demo-only modules load on demand, so a production start never loads or pays for them.
      const { startEmbeddedPostgres } = await import('./demo/embedded-postgres.js');
      const pg = await startEmbeddedPostgres({ dataDir });
      cleanups.push(() => pg.stop());
      databaseUrl = await ensureDatabase(pg.url, DEMO_DATABASE);
    }

    let upstreamBaseUrl: string;
    if (config.upstream.baseUrl) {
      upstreamBaseUrl = config.upstream.baseUrl;
    } else {
      // Keyset ids start from the clock so that they keep rising across restarts, and beyond 2^53 so that the
      // demo shows them served exactly.
      const { UpstreamSimulator } = await import('./demo/simulator/upstream-simulator.js');
      const simulator = new UpstreamSimulator({ pkStart: BigInt(Date.now()) * 10_000n });
      upstreamBaseUrl = await simulator.start(0, '127.0.0.1');
      cleanups.push(() => simulator.stop());
      log.warn(`DEMO MODE: no UPSTREAM_BASE_URL, the bundled upstream simulator answers at ${upstreamBaseUrl}`);
    }
    if (config.demoIntegrations) {
      log.warn('DEMO MODE: no INTEGRATIONS, scheduling the two sample integrations every 10 s');
    }

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

    // Cached hot reads are answered before Fastify routes them, or (with CORS) before Nest's middleware; armed once
    // the app is initialized.
    const fastReads = new FastReadPath();
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
      }),
    });
    adapter.getInstance().addHook('onRequest', fastReads.hook);
    const app = await NestFactory.create<NestFastifyApplication>(
      AppModule.register({ config, upstreamBaseUrl, dataSource, loggerParams }),
      adapter,
      { logger: appLogger, bufferLogs: appLogger !== false },
    );
    if (appLogger === pinoLogger) app.useLogger(app.get(PinoNestLogger));
    else app.flushLogs();
    const fastify = app.getHttpAdapter().getInstance();
    fastify.server.on('connect', refuseConnect);
    // Every body the API reads is JSON: a text/plain one is refused 415 instead of reaching validation as a string.
    fastify.removeContentTypeParser('text/plain');
    capConnections(fastify.server, config);
    fastify.addHook('onRequest', async (request, reply) => {
      void reply.header(REQUEST_ID_HEADER, request.id);
    });
    // A compact set for the JSON API, helmet's full set for the Swagger UI (src/http/security-headers.ts).
    await registerSecurityHeaders(app);
    const routes = new RouteMethods();
    applyHttpConventions(app, routes);
    if (config.access.corsOrigins.length > 0) {
      app.enableCors({
        origin: config.access.corsOrigins,
        methods: ['GET', 'POST'],
        allowedHeaders: ['Authorization', 'X-API-Key', 'Content-Type', 'X-Request-Id', 'If-None-Match'],
        exposedHeaders: CORS_EXPOSED_HEADERS,
        maxAge: 600,
      });
    }
    protectDocs(fastify, config, app.get(ApiKeyAuthenticator));
    app.useGlobalPipes(createValidationPipe());
    app.useGlobalFilters(new ProblemDetailsFilter(routes));
    app.useGlobalInterceptors(new KnownQueryInterceptor(setupOpenApi(app, config)));
    await app.init();
    await fastReads.arm(app, config, silent ? null : createReadLineWriter(config, loggerParams));

    return {
      app,
      upstreamBaseUrl,
      databaseUrl,
      close: async (signal?: string) => {
        // No client holds the shutdown past its grace period, whatever it sends or doesn't.
        const stopClosing = closeConnectionsWithin(fastify.server, config.schedule.shutdownGraceMs);
        try {
          await app.get(ShutdownCoordinator).drain(signal);
          // From here Fastify answers every request, 503 while it closes.
          fastReads.disarm();
          await app.close();
          await cleanup();
        } finally {
          stopClosing();
        }
      },
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
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

import { Module, type DynamicModule } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { TerminusModule } from '@nestjs/terminus';
import type { Params as LoggerParams } from 'nestjs-pino';
import type { DataSource } from 'typeorm';
import { StateCache } from './cache/state-cache';
import { ConfigModule, type AppConfig } from './config';
import { EventsModule } from './events/events.module';
import { AccessModule } from './http/auth/access.module';
import { CallerResolver } from './http/auth/actor';
import { AuditController } from './http/audit.controller';
import { DashboardApiController } from './http/dashboard-api.controller';
import { DashboardAssetsController } from './http/dashboard-assets.controller';
import { HealthController } from './http/health.controller';
import { IntegrationsController } from './http/integrations.controller';
import { OperatorActionsController } from './http/operator-actions.controller';
import { ShutdownCoordinator } from './lifecycle/shutdown.coordinator';
import { ShutdownState } from './lifecycle/shutdown-state';
import { ObservabilityModule } from './observability/observability.module';
import { PersistenceModule } from './persistence/persistence.module';
import { IntegrationControlService } from './runs/integration-control.service';
import { RunService } from './runs/run.service';
import { SchedulerService } from './scheduler/scheduler.service';
import { UpstreamModule } from './upstream/upstream.module';

/** Resolved at boot: demo mode has replaced the null database URL and upstream base URL by real ones. */
export interface AppModuleOptions {
  config: AppConfig;
  upstreamBaseUrl: string;
  dataSource: DataSource;
  /** nestjs-pino parameters, from `createLoggerParams` (bootstrap builds them first to log before Nest starts). */
  loggerParams: LoggerParams;
}

@Module({})
export class AppModule {
  static register({ config, upstreamBaseUrl, dataSource, loggerParams }: AppModuleOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        ObservabilityModule.forRoot(loggerParams),
        AccessModule.forRoot(config),
        TerminusModule.forRoot({ logger: true, errorLogStyle: 'json' }),
        ScheduleModule.forRoot(),
        PersistenceModule.forDataSource(dataSource),
        UpstreamModule.register({
          baseUrl: upstreamBaseUrl,
          format: config.upstream.format,
          // One deadline for the whole call: every attempt, the waits between them and token requests.
          timeoutMs: config.upstream.timeoutMs,
          // An attempt that times out after its POST was sent has an unknown outcome and is retried within the rest.
          attemptTimeoutMs: config.upstream.attemptTimeoutMs,
          connectTimeoutMs: config.upstream.connectTimeoutMs,
          defaultTimeZone: config.upstream.timeZone,
          auth: upstreamAuth(config),
          maxBodyBytes: config.upstream.maxBodyBytes,
          retry: {
            maxAttempts: config.upstream.retry.maxAttempts,
            baseMs: config.upstream.retry.baseMs,
            maxMs: config.upstream.retry.maxMs,
          },
          breaker: {
            threshold: config.upstream.breaker.threshold,
            halfOpenAfterMs: config.upstream.breaker.halfOpenAfterMs,
          },
        }),
        EventsModule,
      ],
      controllers: [
        IntegrationsController,
        OperatorActionsController,
        AuditController,
        DashboardApiController,
        HealthController,
        DashboardAssetsController,
      ],
      providers: [
        RunService,
        SchedulerService,
        IntegrationControlService,
        ShutdownState,
        ShutdownCoordinator,
        StateCache,
        CallerResolver,
      ],
    };
  }
}

/**
 * The config's upstream auth is what the client takes, client_credentials included (a null tokenUrl
 * means `{base}/api/token/authorize`; the client fetches, caches and refreshes the token itself).
 */
function upstreamAuth(config: AppConfig) {
  return config.upstream.auth;
}

import { Module, type DynamicModule } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { TerminusModule } from '@nestjs/terminus';
import type { Params as LoggerParams } from 'nestjs-pino';
import type { DataSource } from 'typeorm';
import { ConfigModule, type AppConfig } from './config';
import { AccessModule } from './http/auth/access.module';
import { HealthController } from './http/health.controller';
import { IntegrationsController } from './http/integrations.controller';
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
          timeoutMs: config.upstream.timeoutMs,
          defaultTimeZone: config.upstream.timeZone,
          auth: upstreamAuth(config),
          maxBodyBytes: config.upstream.maxBodyBytes,
        }),
      ],
      controllers: [IntegrationsController, HealthController],
      providers: [RunService, SchedulerService, IntegrationControlService, ShutdownState, ShutdownCoordinator],
    };
  }
}

/** Until the token flow lands in the upstream client, client_credentials is refused at boot rather than ignored. */
function upstreamAuth(config: AppConfig) {
  const auth = config.upstream.auth;
  if (auth.kind === 'client_credentials') throw new Error('UPSTREAM_AUTH=client_credentials is not supported by this build');
  return auth;
}

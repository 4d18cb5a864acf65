import { Module, type DynamicModule } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import type { DataSource } from 'typeorm';
import { ConfigModule, type AppConfig } from './config';
import { HealthController } from './http/health.controller';
import { IntegrationsController } from './http/integrations.controller';
import { ShutdownCoordinator } from './lifecycle/shutdown.coordinator';
import { ShutdownState } from './lifecycle/shutdown-state';
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
}

@Module({})
export class AppModule {
  static register({ config, upstreamBaseUrl, dataSource }: AppModuleOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
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

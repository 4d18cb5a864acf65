import { Module, type DynamicModule } from '@nestjs/common';
import { LoggerModule, type Params } from 'nestjs-pino';
import { IntegrationStates, StalenessCheck } from './integration-states';
import { MetricsController } from './metrics.controller';
import { MetricsService } from './metrics.service';
import { RunTelemetry } from './run-telemetry';
import { UpstreamRequestMetrics } from './upstream-request-metrics';

/** Logging (nestjs-pino), metrics (`/metrics`) and the shared-state reads that metrics and readiness use. */
@Module({})
export class ObservabilityModule {
  /** @param loggerParams from `createLoggerParams` */
  static forRoot(loggerParams: Params): DynamicModule {
    const providers = [IntegrationStates, StalenessCheck, MetricsService, RunTelemetry, UpstreamRequestMetrics];
    return {
      module: ObservabilityModule,
      global: true,
      imports: [LoggerModule.forRoot(loggerParams)],
      controllers: [MetricsController],
      providers,
      exports: [IntegrationStates, StalenessCheck, MetricsService, RunTelemetry],
    };
  }
}

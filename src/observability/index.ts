export { createLoggerParams, requestIdFor, REQUEST_ID_HEADER, type LoggingOptions } from './logging';
export { IntegrationStates, StalenessCheck, findStale, type StaleIntegration } from './integration-states';
export { MetricsService } from './metrics.service';
export { ObservabilityModule } from './observability.module';
export { RunTelemetry } from './run-telemetry';
export { REDACTED, scrubText, secretValuesOf } from './redaction';

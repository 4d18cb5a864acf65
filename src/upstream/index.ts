export * from './errors';
export type { CustomDatabaseValues, IntegrationKey, IntegrationStatus } from './integration-status';
export {
  DOTNET_MAX_EPOCH_NS,
  DOTNET_MIN_EPOCH_NS,
  assertValidTimeZone,
  formatUtc,
  parseUpstreamDate,
  type UpstreamInstant,
} from './dotnet-date';
export {
  XSI_NAMESPACE,
  assertSameIntegration,
  bodyExcerpt,
  parseAspNetError,
  parseContentType,
  parseIntegrationStatus,
  sameIntegrationName,
  type ParseIntegrationStatusOptions,
} from './integration-status.parser';
export {
  INTEGRATION_START_REQUEST_NAMESPACE,
  buildIntegrationStartRequest,
  escapeXmlText,
  type IntegrationStartRequest,
} from './integration-start.request';
export {
  DEFAULT_BREAKER,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_RETRY,
  DEFAULT_TOKEN_PATH,
  UPSTREAM_CLIENT_OPTIONS,
  type IntegrationStartCallOptions,
  type IntegrationStartResult,
  type UpstreamAuth,
  type UpstreamBreakerOptions,
  type UpstreamClientOptions,
  type UpstreamRetryOptions,
} from './upstream-options';
export { UpstreamClient } from './upstream.client';
export { parseRetryAfter } from './retry-plan';
export {
  UpstreamBreaker,
  UpstreamBreakerRegistry,
  countsForBreaker,
  defaultUpstreamBreakerRegistry,
  type UpstreamBreakerSettings,
  type UpstreamBreakerSnapshot,
  type UpstreamBreakerState,
} from './breaker';
export { UpstreamModule, type UpstreamModuleAsyncOptions } from './upstream.module';

export * from './errors';
export type { IntegrationKey, IntegrationStatus } from './integration-status';
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
  DEFAULT_MAX_BODY_BYTES,
  UPSTREAM_CLIENT_OPTIONS,
  UpstreamClient,
  type IntegrationStartCallOptions,
  type IntegrationStartResult,
  type UpstreamAuth,
  type UpstreamClientOptions,
} from './upstream.client';
export { UpstreamModule, type UpstreamModuleAsyncOptions } from './upstream.module';

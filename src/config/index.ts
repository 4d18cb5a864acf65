export * from './app-config';
export * from './config.module';
export { ConfigError, ENV_KEYS, loadConfig, loadConfigFromProcess, type Env } from './load-config';
export { DEMO_INTEGRATIONS } from './integrations-config';
export {
  INTEGRATION_NAME_MAX_LENGTH,
  INTEGRATION_NAME_PATTERN,
  SOURCE_SYSTEM_ID_MAX,
  isValidTimeZone,
} from './env.schema';
export {
  DEFAULT_RETRY_SCHEDULE,
  EVENT_DEFAULTS,
  EVENT_ENV_KEYS,
  loadEventsConfig,
  type EventsConfig,
  type WebhookSubscription,
} from './events-config';

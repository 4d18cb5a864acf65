/**
 * Configuration of events: the outbox, webhooks and the live stream. Read by `loadConfig` with the other variables;
 * kept apart because none of it changes how runs are scheduled or executed.
 */

import { unmatchedTypePatterns, unmatchedTypesRule } from '../events/event-types';

type Env = Readonly<Record<string, string | undefined>>;

/** One webhook subscription from WEBHOOKS. */
export interface WebhookSubscription {
  /** Unique; names the subscription in the deliveries API, metrics and logs. */
  name: string;
  /** An http: or https: URL; redirects are not followed. */
  url: string;
  /** The signing key: the bytes of the base64 text after `whsec_`. */
  key: Buffer;
  /** Event types, each exact or a prefix ending in `*`. */
  types: string[];
}

export interface EventsConfig {
  /** CloudEvents `source` of every event. */
  source: string;
  /** `tidemark.run.failed` is sent again at every multiple of this many consecutive failures. */
  failureRepeat: number;
  /** Events older than this are pruned. */
  retentionDays: number;
  webhooks: WebhookSubscription[];
  /** The wait before each retry of a failed delivery, ms; after the last one the delivery is `exhausted`. */
  retryScheduleMs: number[];
}

/** Every variable read here; `loadConfig` adds them to ENV_KEYS. */
export const EVENT_ENV_KEYS = [
  'WEBHOOKS',
  'EVENT_SOURCE',
  'EVENT_FAILURE_REPEAT',
  'EVENT_RETENTION_DAYS',
  'WEBHOOK_RETRY_SCHEDULE',
] as const;

/** Immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h (Standard Webhooks' recommended schedule). */
export const DEFAULT_RETRY_SCHEDULE = '0,5s,5m,30m,2h,5h,10h,10h';

export const EVENT_DEFAULTS = {
  EVENT_SOURCE: 'urn:tidemark',
  EVENT_FAILURE_REPEAT: 10,
  EVENT_RETENTION_DAYS: 7,
} as const;

/** `whsec_` and standard base64 of at least 24 bytes (Standard Webhooks asks for 24 to 64). */
const SECRET_PATTERN = /^whsec_([A-Za-z0-9+/]+={0,2})$/;
const TYPE_PATTERN = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\.\*|\*)?$|^\*$/;
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const DURATION_PATTERN = /^(\d+)(ms|s|m|h)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/**
 * Parses the event variables of `env`, adding one line per problem to `problems` (naming the variable, element and
 * rule, never a secret or URL). Returns a usable value even when there are problems; callers throw on any.
 */
export function loadEventsConfig(env: Env, problems: string[]): EventsConfig {
  const value = (key: (typeof EVENT_ENV_KEYS)[number]) => (env[key] === '' ? undefined : env[key]);
  const source = value('EVENT_SOURCE') ?? EVENT_DEFAULTS.EVENT_SOURCE;
  if (!/^\S+$/.test(source) || source.length > 1_024) {
    problems.push('EVENT_SOURCE: must be a URI-reference without spaces, at most 1024 characters');
  }
  return {
    source,
    failureRepeat:
      readInt(value('EVENT_FAILURE_REPEAT'), 'EVENT_FAILURE_REPEAT', 1, 1_000_000, problems) ??
      EVENT_DEFAULTS.EVENT_FAILURE_REPEAT,
    retentionDays:
      readInt(value('EVENT_RETENTION_DAYS'), 'EVENT_RETENTION_DAYS', 1, 3_650, problems) ??
      EVENT_DEFAULTS.EVENT_RETENTION_DAYS,
    webhooks: readWebhooks(value('WEBHOOKS'), problems),
    retryScheduleMs: readSchedule(value('WEBHOOK_RETRY_SCHEDULE') ?? DEFAULT_RETRY_SCHEDULE, problems),
  };
}

function readInt(text: string | undefined, name: string, min: number, max: number, problems: string[]): number | null {
  if (text === undefined) return null;
  const n = /^\d+$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    problems.push(`${name}: must be an integer from ${min} to ${max} (got ${JSON.stringify(text.slice(0, 40))})`);
    return null;
  }
  return n;
}

function readSchedule(text: string, problems: string[]): number[] {
  const parts = text.split(',').map((p) => p.trim());
  const delays: number[] = [];
  for (const part of parts) {
    const match = DURATION_PATTERN.exec(part);
    const ms = match ? Number(match[1]) * UNIT_MS[match[2] ?? 'ms'] : NaN;
    if (!Number.isSafeInteger(ms) || ms > 7 * 86_400_000) {
      problems.push(
        'WEBHOOK_RETRY_SCHEDULE: must be a comma-separated list of waits such as 0,5s,5m,2h (ms when no unit; each at most 7 days)',
      );
      return [];
    }
    delays.push(ms);
  }
  if (delays.length > 50) problems.push('WEBHOOK_RETRY_SCHEDULE: must list at most 50 retries');
  return delays;
}

const KNOWN_WEBHOOK_KEYS = new Set(['name', 'url', 'secret', 'types']);

function readWebhooks(text: string | undefined, problems: string[]): WebhookSubscription[] {
  if (text === undefined) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    problems.push('WEBHOOKS: must be valid JSON');
    return [];
  }
  if (!Array.isArray(parsed)) {
    problems.push('WEBHOOKS: must be a JSON array of {"name", "url", "secret", "types"} objects');
    return [];
  }
  const before = problems.length;
  const names = new Set<string>();
  const webhooks = parsed.map((item: unknown, index) => readWebhook(item, `WEBHOOKS[${index}]`, names, problems));
  return problems.length > before ? [] : (webhooks as WebhookSubscription[]);
}

function readWebhook(item: unknown, at: string, names: Set<string>, problems: string[]): WebhookSubscription | null {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) {
    problems.push(`${at}: must be an object`);
    return null;
  }
  const entry = item as Record<string, unknown>;
  for (const key of Object.keys(entry)) {
    if (!KNOWN_WEBHOOK_KEYS.has(key)) problems.push(`${at}.${key}: is not a known setting`);
  }
  const { name, url, secret, types } = entry;
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    problems.push(`${at}.name: must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit`);
  } else if (names.has(name)) {
    problems.push(`${at}.name: must be unique (${name} repeats)`);
  } else {
    names.add(name);
  }
  if (typeof url !== 'string' || !isHttpUrl(url)) {
    problems.push(`${at}.url: must be an absolute http: or https: URL without a fragment`);
  }
  const key = typeof secret === 'string' ? secretKey(secret) : null;
  if (key === null) {
    problems.push(`${at}.secret: must be "whsec_" followed by standard base64 of 24 to 64 bytes`);
  }
  if (
    !Array.isArray(types) ||
    types.length === 0 ||
    !types.every((t): t is string => typeof t === 'string' && TYPE_PATTERN.test(t))
  ) {
    problems.push(
      `${at}.types: must be a non-empty array of event types, each exact (tidemark.watermark.advanced) or ending in * (tidemark.watermark.*)`,
    );
  } else {
    const unmatched = unmatchedTypePatterns(types);
    if (unmatched.length > 0) problems.push(`${at}.types: ${unmatchedTypesRule(unmatched)}`);
  }
  if (key === null || typeof name !== 'string' || typeof url !== 'string' || !Array.isArray(types)) return null;
  return { name, url, key, types: [...new Set(types as string[])] };
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hash === '' && !text.includes('#');
  } catch {
    return false;
  }
}

function secretKey(secret: string): Buffer | null {
  const match = SECRET_PATTERN.exec(secret);
  if (!match || match[1].length % 4 !== 0) return null;
  const key = Buffer.from(match[1], 'base64');
  return key.length >= 24 && key.length <= 64 ? key : null;
}

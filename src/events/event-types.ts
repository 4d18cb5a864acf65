/** The event types Tidemark emits; every one is a CloudEvents `type`. */
export const EVENT_TYPES = {
  watermarkAdvanced: 'tidemark.watermark.advanced',
  watermarkRegressed: 'tidemark.watermark.regressed',
  runFailed: 'tidemark.run.failed',
  integrationStale: 'tidemark.integration.stale',
  integrationRecovered: 'tidemark.integration.recovered',
  integrationPaused: 'tidemark.integration.paused',
  integrationResumed: 'tidemark.integration.resumed',
  webhookExhausted: 'tidemark.webhook.exhausted',
} as const;

export type EventType = (typeof EVENT_TYPES)[keyof typeof EVENT_TYPES];
export const ALL_EVENT_TYPES: readonly EventType[] = Object.values(EVENT_TYPES);

/** An event to insert into the outbox; the database gives it its id, transaction id and time. */
export interface NewEvent {
  type: EventType;
  source: string;
  /** `{sourceSystemId}/{integrationName}`. */
  subject: string;
  /** Database id of the integration, a decimal string; events of one integration are delivered in order. */
  integrationId: string | null;
  runId: string | null;
  data: Record<string, unknown>;
}

/** An event as stored in the outbox. */
export interface OutboxEvent extends Omit<NewEvent, 'type'> {
  /** The outbox id, a decimal string: the CloudEvents id, the SSE id and the webhook-id. */
  id: string;
  /** The inserting transaction's id (xid8, decimal); with `id`, the position in the stream. */
  txid: string;
  type: string;
  time: Date;
}

/** The CloudEvents 1.0 JSON envelope, as sent on webhooks and the stream. */
export interface CloudEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  subject: string;
  time: string;
  datacontenttype: 'application/json';
  data: unknown;
}

export function toCloudEvent(event: OutboxEvent): CloudEvent {
  return {
    specversion: '1.0',
    id: event.id,
    source: event.source,
    type: event.type,
    subject: event.subject,
    time: event.time.toISOString(),
    datacontenttype: 'application/json',
    data: event.data,
  };
}

/** The CloudEvents subject of an integration's events. */
export function subjectOf(integration: { sourceSystemId: number; integrationName: string }): string {
  return `${integration.sourceSystemId}/${integration.integrationName}`;
}

/** Whether `type` matches one of `patterns`: an exact type, a prefix ending in `*`, or `*` alone. */
export function matchesType(patterns: readonly string[], type: string): boolean {
  return patterns.some((pattern) => (pattern.endsWith('*') ? type.startsWith(pattern.slice(0, -1)) : pattern === type));
}

/** The patterns that match no event type Tidemark emits: a misspelt filter would otherwise match nothing, silently. */
export function unmatchedTypePatterns(patterns: readonly string[]): string[] {
  return patterns.filter((pattern) => !ALL_EVENT_TYPES.some((type) => matchesType([pattern], type)));
}

/** How many unmatched patterns a message names, so that a long filter gives a short error. */
const NAMED_AT_MOST = 5;

/** The rule broken by `unmatched` (non-empty), naming the first few of them. */
export function unmatchedTypesRule(unmatched: readonly string[]): string {
  const named = unmatched.slice(0, NAMED_AT_MOST).map((p) => (p.length > 64 ? `${p.slice(0, 64)}…` : p));
  const more = unmatched.length > NAMED_AT_MOST ? ` and ${unmatched.length - NAMED_AT_MOST} more` : '';
  return `must name event types Tidemark emits (${named.join(', ')}${more} ${unmatched.length === 1 ? 'matches' : 'match'} none)`;
}

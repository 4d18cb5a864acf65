import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { NewEvent, OutboxEvent } from '../events/event-types';
import { eventsJson } from './event-outbox';
import { TIDEMARK_DATA_SOURCE } from './data-source';
import type { Page } from './types';

/**
 * A position in the event stream: events are taken in (txid, id) order, and only those of transactions older than
 * every transaction still running, so the order is final once read (see the event-outbox migration).
 */
export interface StreamPosition {
  /** xid8 of the inserting transaction, decimal. */
  txid: string;
  /** Outbox id, decimal. */
  id: string;
}

export const STREAM_START: StreamPosition = { txid: '0', id: '0' };

/** A delivery claimed for sending, with its event. */
export interface ClaimedDelivery {
  id: string;
  subscription: string;
  /** Attempts so far, this one included; with `leaseOwner`, it fences this attempt's result (see recordDelivered). */
  attempts: number;
  /** The replica whose lease covers this attempt. */
  leaseOwner: string;
  event: OutboxEvent;
}

/** Which attempt a result belongs to. */
export type DeliveryAttempt = Pick<ClaimedDelivery, 'id' | 'attempts' | 'leaseOwner'>;

export type DeliveryStatus = 'pending' | 'delivered' | 'exhausted';

export interface DeliveryRecord {
  id: string;
  subscription: string;
  eventId: string;
  eventType: string;
  subject: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: Date | null;
  lastStatus: number | null;
  lastError: string | null;
  latencyMs: number | null;
  createdAt: Date;
  finishedAt: Date | null;
}

type Row = Record<string, unknown>;

const EVENT_COLUMNS = `e.id::text AS id, e.txid::text AS txid, e.type, e.source, e.subject,
  e.integration_id::text AS integration_id, e.run_id::text AS run_id, e.time, e.data`;

/** Reads and writes of the outbox, the webhook deliveries and the stale flags. */
@Injectable()
export class OutboxRepository {
  constructor(@Inject(TIDEMARK_DATA_SOURCE) private readonly dataSource: DataSource) {}

  /**
   * Events after `after` in stream order, at most `limit`.
   * @returns the events, and `blocked`: later events exist that a transaction still running keeps back
   */
  async readAfter(after: StreamPosition, limit: number): Promise<{ events: OutboxEvent[]; blocked: boolean }> {
    const rows: Row[] = await this.dataSource.query(
      `WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin)
       SELECT ${EVENT_COLUMNS}
       FROM event e, h
       WHERE (e.txid, e.id) > ($1::xid8, $2::bigint) AND e.txid < h.xmin
       ORDER BY e.txid, e.id
       LIMIT $3`,
      [after.txid, after.id, limit],
    );
    const events = rows.map(toEvent);
    if (events.length === limit) return { events, blocked: false };
    const last = events.at(-1);
    const later: Row[] = await this.dataSource.query(
      `SELECT 1 FROM event e
       WHERE (e.txid, e.id) > ($1::xid8, $2::bigint) AND e.txid >= pg_snapshot_xmin(pg_current_snapshot()) LIMIT 1`,
      [last?.txid ?? after.txid, last?.id ?? after.id],
    );
    const blocked = later.length > 0;
    return { events, blocked };
  }

  /**
   * What {@link readAfter} would read, counted instead of read, in one statement: how many events of each type, the
   * position of the last one (null when none), and `blocked` as readAfter gives it.
   */
  async countAfter(
    after: StreamPosition,
    limit: number,
  ): Promise<{ counts: Record<string, number>; scanned: number; last: StreamPosition | null; blocked: boolean }> {
    const [row]: Row[] = await this.dataSource.query(
      `WITH batch AS (
         SELECT e.txid, e.id, e.type FROM event e
         WHERE (e.txid, e.id) > ($1::xid8, $2::bigint) AND e.txid < pg_snapshot_xmin(pg_current_snapshot())
         ORDER BY e.txid, e.id LIMIT $3
       ),
       last AS (SELECT txid, id FROM batch ORDER BY txid DESC, id DESC LIMIT 1)
       SELECT (SELECT txid::text FROM last) AS txid, (SELECT id::text FROM last) AS id,
              (SELECT count(*)::int FROM batch) AS scanned,
              (SELECT coalesce(json_object_agg(t.type, t.n), '{}') FROM (
                 SELECT type, count(*)::int AS n FROM batch GROUP BY type) t) AS counts,
              EXISTS (SELECT 1 FROM event e
                      WHERE (e.txid, e.id) > (coalesce((SELECT txid FROM last), $1), coalesce((SELECT id FROM last), $2))
                        AND e.txid >= pg_snapshot_xmin(pg_current_snapshot())) AS blocked`,
      [after.txid, after.id, limit],
    );
    const scanned = row.scanned as number;
    return {
      counts: row.counts as Record<string, number>,
      scanned,
      last: row.txid === null ? null : { txid: row.txid as string, id: row.id as string },
      blocked: scanned < limit && (row.blocked as boolean),
    };
  }

  /** The position of the last event every reader can see now; STREAM_START when there is none. */
  async head(): Promise<StreamPosition> {
    const [row]: Row[] = await this.dataSource.query(
      `SELECT e.txid::text AS txid, e.id::text AS id FROM event e
       WHERE e.txid < pg_snapshot_xmin(pg_current_snapshot())
       ORDER BY e.txid DESC, e.id DESC LIMIT 1`,
    );
    return row ? { txid: row.txid as string, id: row.id as string } : STREAM_START;
  }

  /**
   * Where a client that last saw event `id` resumes: that event's position; STREAM_START when the id is older than
   * every kept event (pruned: the client gets all that is kept); null when no such event exists otherwise.
   */
  async positionOf(id: string): Promise<StreamPosition | null> {
    const [row]: Row[] = await this.dataSource.query(
      `SELECT (SELECT e.txid::text FROM event e WHERE e.id = $1::bigint) AS txid,
              (SELECT min(e.id)::text FROM event e) AS oldest`,
      [id],
    );
    if (row.txid !== null) return { txid: row.txid as string, id };
    if (row.oldest === null || BigInt(id) < BigInt(row.oldest as string)) return STREAM_START;
    return null;
  }

  /** Starts the cursor of each new subscription at the present: it gets the events committed from now on. */
  async ensureCursors(subscriptions: readonly string[]): Promise<void> {
    if (subscriptions.length === 0) return;
    await this.dataSource.query(
      `INSERT INTO webhook_cursor (subscription, txid, event_id)
       SELECT s, pg_snapshot_xmin(pg_current_snapshot()), 0 FROM unnest($1::text[]) AS s
       ON CONFLICT (subscription) DO NOTHING`,
      [subscriptions],
    );
  }

  /**
   * Turns the next events of the stream into deliveries of one subscription, in stream order, and moves its cursor
   * past them: one statement, under the cursor row's lock (a replica that finds it locked skips it).
   * @param types the subscription's type patterns (exact, or a prefix ending in `*`)
   * @returns events read, deliveries created, and whether later events are still held back by running transactions
   */
  async fanOut(
    subscription: string,
    types: readonly string[],
    limit: number,
  ): Promise<{ scanned: number; created: number; blocked: boolean }> {
    const [row]: Row[] = await this.dataSource.query(
      `WITH cur AS (SELECT txid, event_id FROM webhook_cursor WHERE subscription = $1 FOR UPDATE SKIP LOCKED),
       h AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin),
       batch AS (
         SELECT e.id, e.txid, e.type, e.integration_id FROM event e, cur, h
         WHERE (e.txid, e.id) > (cur.txid, cur.event_id) AND e.txid < h.xmin
         ORDER BY e.txid, e.id LIMIT $3
       ),
       last AS (SELECT txid, id FROM batch ORDER BY txid DESC, id DESC LIMIT 1),
       ins AS (
         INSERT INTO webhook_delivery (event_id, subscription, integration_id)
         SELECT b.id, $1, b.integration_id FROM batch b
         WHERE EXISTS (
           SELECT 1 FROM unnest($2::text[]) AS p
           WHERE b.type = p OR (right(p, 1) = '*' AND starts_with(b.type, left(p, -1))))
         ORDER BY b.txid, b.id
         ON CONFLICT (subscription, event_id) DO NOTHING
         RETURNING id
       ),
       moved AS (
         UPDATE webhook_cursor c SET txid = last.txid, event_id = last.id FROM last
         WHERE c.subscription = $1 RETURNING 1
       )
       SELECT (SELECT count(*) FROM batch)::int AS scanned, (SELECT count(*) FROM ins)::int AS created,
              (SELECT count(*) FROM moved)::int AS moved,
              EXISTS (SELECT 1 FROM event e, cur, h WHERE (e.txid, e.id) > (cur.txid, cur.event_id) AND e.txid >= h.xmin)
                AS blocked`,
      [subscription, types, limit],
    );
    return { scanned: row.scanned as number, created: row.created as number, blocked: row.blocked as boolean };
  }

  /**
   * Claims due deliveries of these subscriptions for `replicaId`: only the oldest pending delivery of each
   * (subscription, integration) is eligible, so a later event waits while an earlier one is retried. A claim takes
   * a lease (`leaseMs`) and counts the attempt; rows other replicas are claiming are skipped.
   */
  async claimDeliveries(
    subscriptions: readonly string[],
    replicaId: string,
    limit: number,
    leaseMs: number,
  ): Promise<ClaimedDelivery[]> {
    if (subscriptions.length === 0 || limit <= 0) return [];
    const rows: Row[] = await this.dataSource.query(
      `WITH heads AS (
         SELECT DISTINCT ON (d.subscription, d.integration_id) d.id, d.next_attempt_at, d.lease_expires_at
         FROM webhook_delivery d
         WHERE d.status = 'pending' AND d.subscription = ANY($1::text[])
         ORDER BY d.subscription, d.integration_id, d.id
       ),
       ready AS (
         SELECT d.id FROM webhook_delivery d
         WHERE d.id IN (SELECT h.id FROM heads h
                        WHERE h.next_attempt_at <= now() AND (h.lease_expires_at IS NULL OR h.lease_expires_at < now()))
           AND d.status = 'pending' AND d.next_attempt_at <= now()
           AND (d.lease_expires_at IS NULL OR d.lease_expires_at < now())
         ORDER BY d.id LIMIT $2
         FOR UPDATE SKIP LOCKED
       ),
       claimed AS (
         UPDATE webhook_delivery d SET attempts = d.attempts + 1, lease_owner = $3,
           lease_expires_at = now() + make_interval(secs => $4::double precision / 1000)
         FROM ready WHERE d.id = ready.id
         RETURNING d.id, d.event_id, d.subscription, d.attempts
       )
       SELECT c.id::text AS delivery_id, c.subscription, c.attempts, ${EVENT_COLUMNS}
       FROM claimed c JOIN event e ON e.id = c.event_id
       ORDER BY c.id`,
      [subscriptions, limit, replicaId, leaseMs],
    );
    return rows.map((row) => ({
      id: row.delivery_id as string,
      subscription: row.subscription as string,
      attempts: row.attempts as number,
      leaseOwner: replicaId,
      event: toEvent(row),
    }));
  }

  /**
   * Records a 2xx answer. Only the attempt that holds the delivery's lease may: once its lease expired and the
   * delivery was claimed again (attempts rose, or another replica owns it), a late answer records nothing, so the
   * row always describes its latest attempt.
   * @returns false when the attempt no longer holds the delivery, or it is no longer pending
   */
  async recordDelivered(attempt: DeliveryAttempt, httpStatus: number, latencyMs: number): Promise<boolean> {
    const rows: Row[] = await this.dataSource.query(
      `UPDATE webhook_delivery SET status = 'delivered', last_status = $2, last_error = NULL, latency_ms = $3,
         finished_at = now(), lease_owner = NULL, lease_expires_at = NULL
       WHERE id = $1 AND status = 'pending' AND attempts = $4 AND lease_owner = $5
       RETURNING id`,
      [attempt.id, httpStatus, latencyMs, attempt.attempts, attempt.leaseOwner],
    );
    return firstRows(rows).length > 0;
  }

  /**
   * Records a failed attempt: the delivery waits `retryInMs` for its next one, or with `retryInMs` null it is
   * `exhausted` and `exhaustedEvent` (if any) is inserted in the same statement. Fenced like recordDelivered.
   * @returns the new status, or null when the attempt no longer holds the delivery, or it is no longer pending
   */
  async recordFailed(
    attempt: DeliveryAttempt,
    failure: { httpStatus: number | null; error: string; latencyMs: number },
    retryInMs: number | null,
    exhaustedEvent: NewEvent | null,
  ): Promise<DeliveryStatus | null> {
    const [row]: Row[] = await this.dataSource.query(
      `WITH d AS (
         UPDATE webhook_delivery SET
           status = CASE WHEN $5::float8 IS NULL THEN 'exhausted' ELSE 'pending' END,
           next_attempt_at = CASE WHEN $5::float8 IS NULL THEN next_attempt_at
                                  ELSE now() + make_interval(secs => $5::float8 / 1000) END,
           finished_at = CASE WHEN $5::float8 IS NULL THEN now() END,
           last_status = $2, last_error = $3, latency_ms = $4, lease_owner = NULL, lease_expires_at = NULL
         WHERE id = $1 AND status = 'pending' AND attempts = $7 AND lease_owner = $8
         RETURNING status
       ),
       ev AS (
         INSERT INTO event (type, source, subject, integration_id, run_id, data)
         SELECT c.type, c.source, c.subject, c.integration_id, c.run_id, c.data
         FROM jsonb_to_recordset($6::jsonb)
           AS c(type text, source text, subject text, integration_id bigint, run_id bigint, data jsonb)
         WHERE EXISTS (SELECT 1 FROM d WHERE d.status = 'exhausted')
         RETURNING id
       )
       SELECT (SELECT status FROM d) AS status, (SELECT count(*) FROM ev)::int AS events`,
      [
        attempt.id,
        failure.httpStatus,
        failure.error.slice(0, 1_000),
        failure.latencyMs,
        retryInMs,
        eventsJson(exhaustedEvent ? [exhaustedEvent] : []),
        attempt.attempts,
        attempt.leaseOwner,
      ],
    );
    return (row?.status as DeliveryStatus | null) ?? null;
  }

  /** Deliveries of one subscription, newest first, with ids below `beforeId`. */
  async listDeliveries(
    subscription: string,
    options: { limit: number; beforeId?: string; status?: DeliveryStatus },
  ): Promise<Page<DeliveryRecord>> {
    const rows: Row[] = await this.dataSource.query(
      `SELECT d.id::text AS id, d.subscription, d.event_id::text AS event_id, e.type AS event_type, e.subject,
              d.status, d.attempts, d.next_attempt_at, d.last_status, d.last_error, d.latency_ms, d.created_at,
              d.finished_at
       FROM webhook_delivery d JOIN event e ON e.id = d.event_id
       WHERE d.subscription = $1 AND ($3::bigint IS NULL OR d.id < $3::bigint) AND ($4::text IS NULL OR d.status = $4)
       ORDER BY d.id DESC LIMIT $2`,
      [subscription, options.limit + 1, options.beforeId ?? null, options.status ?? null],
    );
    return { items: rows.slice(0, options.limit).map(toDelivery), hasMore: rows.length > options.limit };
  }

  /**
   * Makes a delivery of `subscription` pending and due now, whatever its status: one more attempt by hand (and, as
   * the oldest pending delivery of its integration, it goes before later ones).
   * @returns the delivery, or null when the subscription has no delivery with this id
   */
  async retryDelivery(subscription: string, id: string): Promise<DeliveryRecord | null> {
    const rows: Row[] = await this.dataSource.query(
      `UPDATE webhook_delivery SET status = 'pending', next_attempt_at = now(), finished_at = NULL,
         attempts = CASE WHEN status = 'pending' THEN attempts ELSE 0 END
       WHERE id = $1::bigint AND subscription = $2
       RETURNING id`,
      [id, subscription],
    );
    if (firstRows(rows).length === 0) return null;
    const page = await this.listDeliveries(subscription, { limit: 1, beforeId: (BigInt(id) + 1n).toString() });
    return page.items[0] ?? null;
  }

  /**
   * Age of the oldest event with a pending delivery to one of `subscriptions`, s (database clock); 0 when none waits.
   * Deliveries of a webhook no longer configured stay as they were (nothing delivers them) and do not count.
   */
  async outboxLagSeconds(subscriptions: readonly string[]): Promise<number> {
    const [row]: Row[] = await this.dataSource.query(
      `SELECT coalesce(extract(epoch FROM now() - min(e.time)), 0)::float8 AS lag
       FROM webhook_delivery d JOIN event e ON e.id = d.event_id
       WHERE d.status = 'pending' AND d.subscription = ANY($1::text[])`,
      [subscriptions],
    );
    return Math.max(0, row.lag as number);
  }

  /** Deletes events older than `days`, at most `batchSize`, never one with a pending delivery. */
  async pruneEvents(days: number, batchSize: number): Promise<number> {
    const rows: Row[] = await this.dataSource.query(
      `DELETE FROM event WHERE id IN (
         SELECT e.id FROM event e
         WHERE e.time < now() - make_interval(days => $1)
           AND NOT EXISTS (SELECT 1 FROM webhook_delivery d WHERE d.event_id = e.id AND d.status = 'pending')
         ORDER BY e.time LIMIT $2
         FOR UPDATE SKIP LOCKED)
       RETURNING id`,
      [days, batchSize],
    );
    return firstRows(rows).length;
  }
}

/** TypeORM answers UPDATE and DELETE … RETURNING with [rows, rowCount]. */
function firstRows(result: unknown): Row[] {
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') {
    return result[0] as Row[];
  }
  return result as Row[];
}

function toEvent(row: Row): OutboxEvent {
  return {
    id: row.id as string,
    txid: row.txid as string,
    type: row.type as string,
    source: row.source as string,
    subject: row.subject as string,
    integrationId: row.integration_id as string | null,
    runId: row.run_id as string | null,
    time: row.time as Date,
    data: row.data as Record<string, unknown>,
  };
}

function toDelivery(row: Row): DeliveryRecord {
  return {
    id: row.id as string,
    subscription: row.subscription as string,
    eventId: row.event_id as string,
    eventType: row.event_type as string,
    subject: row.subject as string,
    status: row.status as DeliveryStatus,
    attempts: row.attempts as number,
    nextAttemptAt: row.status === 'pending' ? (row.next_attempt_at as Date) : null,
    lastStatus: row.last_status as number | null,
    lastError: row.last_error as string | null,
    latencyMs: row.latency_ms as number | null,
    createdAt: row.created_at as Date,
    finishedAt: row.finished_at as Date | null,
  };
}

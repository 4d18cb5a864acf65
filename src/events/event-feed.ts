import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { Observable, Subject, type Subscription } from 'rxjs';
import { OutboxRepository, STREAM_START, type StreamPosition } from '../persistence/outbox.repository';
import type { OutboxEvent } from './event-types';
import { EventMetrics } from './event-metrics';
import { EventWakeups } from './event-wakeups';

/** Events read per query. */
const READ_BATCH = 500;
/** How often the feed reads without a notification, ms (covers a notification connection that is down). */
const POLL_MS = 1_000;
/** How soon the feed reads again when a running transaction held later events back, ms. */
const BLOCKED_RETRY_MS = 20;

/** Orders two stream positions: by transaction id, then outbox id. */
export function comparePositions(a: StreamPosition, b: StreamPosition): number {
  const byTx = BigInt(a.txid) - BigInt(b.txid);
  if (byTx !== 0n) return byTx < 0n ? -1 : 1;
  const byId = BigInt(a.id) - BigInt(b.id);
  return byId === 0n ? 0 : byId < 0n ? -1 : 1;
}

const positionOf = (event: OutboxEvent): StreamPosition => ({ txid: event.txid, id: event.id });

/**
 * This replica's reader of the outbox: it follows the stream in its final order (see OutboxRepository), woken by
 * `NOTIFY tidemark_events` and by a poll, and hands each event once to every live SSE connection of the replica.
 * Whichever replica committed an event, every replica's feed reads it from the table.
 */
@Injectable()
export class EventFeed implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('EventFeed');
  private readonly live = new Subject<OutboxEvent>();
  /** Completes every connection's stream at shutdown, so that the HTTP server can close. */
  private readonly closing = new Subject<void>();
  /** Emits once at shutdown: streams end so that the HTTP server can close. */
  readonly closed = this.closing.asObservable();
  private head: StreamPosition | null = null;
  private started: Promise<StreamPosition> | null = null;
  private reading = false;
  private readAgain = false;
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private wakeups: Subscription | undefined;
  private stopped = false;

  constructor(
    private readonly repository: OutboxRepository,
    private readonly events: EventWakeups,
    private readonly metrics: EventMetrics,
  ) {}

  onApplicationBootstrap(): void {
    this.wakeups = this.events.wakeups.subscribe((wakeup) => {
      if (wakeup === 'events') this.read();
    });
    this.timer = setInterval(() => this.read(), POLL_MS);
    this.timer.unref();
    void this.start().catch(() => undefined);
  }

  onModuleDestroy(): void {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.retryTimer);
    this.wakeups?.unsubscribe();
    this.closing.next();
    this.closing.complete();
    this.live.complete();
  }

  /**
   * The events after `from` (or, with null, from now on), in stream order, then live, until unsubscribed: the
   * table is read up to the feed's position, and the feed's events after it follow, so that nothing is missed or
   * sent twice across the switch.
   */
  stream(from: StreamPosition | null): Observable<OutboxEvent> {
    return new Observable<OutboxEvent>((subscriber) => {
      let cursor: StreamPosition | null = null;
      const buffered: OutboxEvent[] = [];
      const emit = (event: OutboxEvent) => {
        if (cursor !== null && comparePositions(positionOf(event), cursor) <= 0) return;
        cursor = positionOf(event);
        subscriber.next(event);
      };
      const live = this.live.subscribe({
        next: (event) => (cursor === null || buffered.length > 0 ? buffered.push(event) : emit(event)),
        complete: () => subscriber.complete(),
      });
      const closing = this.closing.subscribe({ complete: () => subscriber.complete() });
      void (async () => {
        const head = await this.start();
        let position = from ?? head;
        while (!subscriber.closed && comparePositions(position, head) < 0) {
          const { events } = await this.repository.readAfter(position, READ_BATCH);
          const upToHead = events.filter((event) => comparePositions(positionOf(event), head) <= 0);
          for (const event of upToHead) subscriber.next(event);
          if (upToHead.length === 0) break;
          position = positionOf(upToHead.at(-1)!);
          if (upToHead.length < events.length) break;
        }
        cursor = position;
        // Live events that arrived meanwhile; those already replayed are skipped by position.
        while (buffered.length > 0) emit(buffered.shift()!);
      })().catch((error: unknown) => subscriber.error(error));
      return () => {
        live.unsubscribe();
        closing.unsubscribe();
      };
    });
  }

  /** Starts following the stream from its current end; resolves with the feed's position when it started. */
  private start(): Promise<StreamPosition> {
    if (this.head !== null) return Promise.resolve(this.head);
    this.started ??= this.repository.head().then(
      (head) => {
        this.head ??= head;
        return this.head;
      },
      (error: unknown) => {
        this.started = null;
        throw error;
      },
    );
    return this.started;
  }

  /** Reads what follows the feed's position and hands it out; one read at a time, another if asked meanwhile. */
  private read(): void {
    if (this.stopped || this.head === null) return;
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = true;
    void this.readAll()
      .catch((error: Error) => this.logger.warn(`reading the outbox failed: ${error.message}`))
      .finally(() => {
        this.reading = false;
        if (this.readAgain) {
          this.readAgain = false;
          this.read();
        }
      });
  }

  private async readAll(): Promise<void> {
    for (;;) {
      const from = this.head ?? STREAM_START;
      // With no stream connected, nothing is handed out: the events are only counted, and their rows (the data
      // documents above all) are neither sent by Postgres nor parsed here.
      const { scanned, blocked } = this.live.observed ? await this.readEvents(from) : await this.countEvents(from);
      if (blocked && !this.stopped) {
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => this.read(), BLOCKED_RETRY_MS);
      }
      if (scanned < READ_BATCH) return;
    }
  }

  private async readEvents(from: StreamPosition): Promise<{ scanned: number; blocked: boolean }> {
    const { events, blocked } = await this.repository.readAfter(from, READ_BATCH);
    for (const event of events) {
      this.head = positionOf(event);
      this.metrics.eventSeen(event.type);
      this.live.next(event);
    }
    return { scanned: events.length, blocked };
  }

  private async countEvents(from: StreamPosition): Promise<{ scanned: number; blocked: boolean }> {
    const { counts, scanned, last, blocked } = await this.repository.countAfter(from, READ_BATCH);
    if (last !== null) {
      // A stream that connected meanwhile waits for these events from the feed, as if they had been read.
      if (this.live.observed) await this.handOut(from, last, scanned);
      this.head = last;
    }
    for (const [type, n] of Object.entries(counts)) this.metrics.eventSeen(type, n);
    return { scanned, blocked };
  }

  /** Hands out the events after `from` up to `last` (the `scanned` events a count found), without counting them. */
  private async handOut(from: StreamPosition, last: StreamPosition, scanned: number): Promise<void> {
    const { events } = await this.repository.readAfter(from, scanned);
    for (const event of events) if (comparePositions(positionOf(event), last) <= 0) this.live.next(event);
  }
}

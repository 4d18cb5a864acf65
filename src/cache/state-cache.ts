import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../config';
import { TIDEMARK_DATA_SOURCE } from '../persistence/data-source';
import { IntegrationsRepository } from '../persistence/integrations.repository';
import { STATE_CHANNEL } from '../persistence/state-notifications';
import type { IntegrationRecord, Page } from '../persistence/types';
import { StateListener } from './state-listener';

/**
 * The most a cached read may lag a commit on any replica, ms. An entry is served only while it is younger than
 * this, or while the listener has proven, within this time, that it would have heard of a change to it.
 */
export const MAX_STALENESS_MS = 750;
/**
 * Bounds on what is kept, so that no sequence of requests can grow memory without limit; past a bound that part of
 * the cache is dropped wholesale. Integrations are bounded by the table itself.
 */
const MAX_PAGE_ITEMS = 20_000;
const MAX_URLS = 20_000;
/** Longer URLs are answered but not remembered (a URL may be up to 16 KiB). */
const MAX_URL_LENGTH = 1_024;

/** What the HTTP layer renders once per cached state and serves many times. */
export interface Rendered {
  body: Buffer;
  /**
   * The body as a string, when it is small: Node sends a string body with the response head in one write, and a
   * Buffer body with it in a two-part writev, which costs more per response.
   */
  text?: string;
  /** A strong entity tag, quotes included. */
  etag: string;
}

interface Freshness {
  /** `Date.now()` when the database read started. */
  readAt: number;
  /** Listener epoch when the read started (0: not listening then). */
  epoch: number;
  /** Invalidation sequence number when the read started. */
  seq: number;
}

export interface CachedIntegration extends Freshness {
  record: IntegrationRecord;
  rendered?: Rendered;
}

export interface CachedPage extends Freshness {
  page: Page<IntegrationRecord>;
  rendered?: Rendered;
}

/**
 * A read-through cache of the integration state the facade serves, shared by every request of this replica.
 *
 * Invalidation is exact and cross-replica: each transaction that changes served state sends `NOTIFY tidemark_state`
 * with the changed ids (see state-notifications.ts), delivered on commit to every replica's {@link StateListener}, and the
 * entries of those ids are dropped. Correctness does not rest on the notifications arriving: an entry is served only
 * while `now - max(readAt, confirmedAt)` is below {@link MAX_STALENESS_MS}, where `confirmedAt` is the latest moment
 * the listener, connected since before the entry was read, proved it had received every earlier notification.
 * While the listener is down that is a plain TTL from the read, and a reconnect starts a new epoch that vouches for
 * no older entry. A read that overlaps an invalidation of what it read is served to its caller but not kept.
 */
@Injectable()
export class StateCache implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('StateCache');
  private readonly listener: StateListener;
  private readonly integrations = new Map<string, CachedIntegration>();
  private readonly pages = new Map<string, CachedPage>();
  /** Request URL → integration key, for the fast read path; filled by requests Nest validated and answered. */
  private readonly urls = new Map<string, string>();
  private readonly keyById = new Map<string, string>();
  private readonly invalidatedSeq = new Map<string, number>();
  private readonly idByKey = new Map<string, string>();
  private readonly inFlight = new Map<string, { snapshot: Freshness; promise: Promise<CachedIntegration | null> }>();
  /** Items held by the cached pages, for MAX_PAGE_ITEMS. */
  private pageItems = 0;
  private seq = 0;
  private everythingInvalidatedSeq = 0;
  private wasDown = false;

  constructor(
    private readonly repository: IntegrationsRepository,
    @Inject(TIDEMARK_DATA_SOURCE) dataSource: DataSource,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    const url = (dataSource.options as { url?: string }).url;
    this.listener = new StateListener(
      {
        connectionString: url ?? '',
        channel: STATE_CHANNEL,
        heartbeatMs: Math.floor(MAX_STALENESS_MS / 4),
        heartbeatTimeoutMs: MAX_STALENESS_MS,
        connectTimeoutMs: config.database.connectTimeoutMs,
      },
      {
        onPayload: (payload) => this.invalidate(payload),
        onListening: () => {
          if (this.wasDown) this.logger.log('state notifications: listening again');
          this.wasDown = false;
        },
        onDown: (error) => {
          if (!this.wasDown)
            this.logger.warn(
              `state notifications: connection lost (${error?.message ?? 'closed'}); cached reads expire after ${MAX_STALENESS_MS} ms until it is back`,
            );
          this.wasDown = true;
        },
      },
    );
  }

  onApplicationBootstrap(): void {
    this.listener.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.listener.stop();
  }

  /** Whether the listener currently vouches for entries (for tests and diagnostics). */
  get listening(): boolean {
    return this.listener.epoch !== 0;
  }

  /** One integration, from the cache when fresh, else from the database (and kept when nothing changed meanwhile). */
  integration(sourceSystemId: number, integrationName: string): Promise<CachedIntegration | null> {
    const key = integrationKey(sourceSystemId, integrationName);
    const now = Date.now();
    const cached = this.integrations.get(key);
    if (cached && this.isFresh(cached, now)) return Promise.resolve(cached);
    let flight = this.inFlight.get(key);
    // Requests that miss together share one read, unless what it reads was invalidated after it started.
    if (!flight || !this.keyUnchangedSince(key, flight.snapshot.seq)) {
      const snapshot = this.snapshot(now);
      const promise = this.repository
        .findIntegration(sourceSystemId, integrationName)
        .then((record) => this.settle(key, snapshot, record));
      const current = { snapshot, promise };
      this.inFlight.set(key, current);
      const clear = () => {
        if (this.inFlight.get(key) === current) this.inFlight.delete(key);
      };
      promise.then(clear, clear);
      flight = current;
    }
    return flight.promise;
  }

  /** A fresh cached integration for a URL that Nest answered before; undefined when there is none. */
  integrationForUrl(url: string): CachedIntegration | undefined {
    const key = this.urls.get(url);
    if (key === undefined) return undefined;
    const cached = this.integrations.get(key);
    return cached && this.isFresh(cached, Date.now()) ? cached : undefined;
  }

  /** Remembers that `url` (as received, query included) names the integration and passed validation. */
  rememberIntegrationUrl(url: string, entry: CachedIntegration): void {
    if (url.length > MAX_URL_LENGTH) return;
    if (this.urls.size >= MAX_URLS) this.urls.clear();
    this.urls.set(url, integrationKey(entry.record.sourceSystemId, entry.record.integrationName));
  }

  /**
   * One page of the integration list, from the cache when fresh. `url` (as received, query included) keys it: a
   * page is kept only for a URL that Nest validated.
   */
  async page(url: string, read: () => Promise<Page<IntegrationRecord>>): Promise<CachedPage> {
    const now = Date.now();
    const cached = this.pages.get(url);
    if (cached && this.isPageFresh(cached, now)) return cached;
    const started = this.snapshot(now);
    const page = await read();
    const fresh: CachedPage = { ...started, page };
    if (
      url.length <= MAX_URL_LENGTH &&
      this.everythingInvalidatedSeq <= started.seq &&
      page.items.every((item) => this.unchangedSince(item.id, started.seq))
    ) {
      const replaced = this.pages.get(url);
      this.pageItems -= replaced?.page.items.length ?? 0;
      if (this.pageItems + page.items.length > MAX_PAGE_ITEMS) {
        this.pages.clear();
        this.pageItems = 0;
      }
      this.pages.set(url, fresh);
      this.pageItems += page.items.length;
    }
    return fresh;
  }

  /** A fresh cached page for a URL that Nest answered before; undefined when there is none. */
  pageForUrl(url: string): CachedPage | undefined {
    const cached = this.pages.get(url);
    return cached && this.isPageFresh(cached, Date.now()) ? cached : undefined;
  }

  /** Applies one notification payload: comma-separated integration ids, or `*` for all. */
  invalidate(payload: string): void {
    const seq = ++this.seq;
    if (payload === '*' || payload === '') {
      this.everythingInvalidatedSeq = seq;
      this.integrations.clear();
      this.pages.clear();
      this.pageItems = 0;
      return;
    }
    for (const id of payload.split(',')) {
      this.invalidatedSeq.set(id, seq);
      const key = this.keyById.get(id);
      if (key !== undefined) this.integrations.delete(key);
    }
  }

  private snapshot(now: number): Freshness {
    return { readAt: now, epoch: this.listener.epoch, seq: this.seq };
  }

  private isFresh(entry: Freshness, now: number): boolean {
    const vouched = entry.epoch !== 0 && entry.epoch === this.listener.epoch ? this.listener.confirmedAt : 0;
    return now - Math.max(entry.readAt, vouched) < MAX_STALENESS_MS;
  }

  private isPageFresh(entry: CachedPage, now: number): boolean {
    if (!this.isFresh(entry, now) || this.everythingInvalidatedSeq > entry.seq) return false;
    for (const item of entry.page.items) if (!this.unchangedSince(item.id, entry.seq)) return false;
    return true;
  }

  private unchangedSince(id: string, seq: number): boolean {
    return this.everythingInvalidatedSeq <= seq && (this.invalidatedSeq.get(id) ?? 0) <= seq;
  }

  private keyUnchangedSince(key: string, seq: number): boolean {
    const id = this.idByKey.get(key);
    return id === undefined ? this.everythingInvalidatedSeq <= seq : this.unchangedSince(id, seq);
  }

  /** Keeps what a read found unless it was invalidated while the read went on. */
  private settle(key: string, snapshot: Freshness, record: IntegrationRecord | null): CachedIntegration | null {
    if (!record) return null;
    this.idByKey.set(key, record.id);
    const entry: CachedIntegration = { ...snapshot, record };
    if (this.unchangedSince(record.id, snapshot.seq)) {
      this.keyById.set(record.id, key);
      const existing = this.integrations.get(key);
      if (!existing || existing.readAt <= entry.readAt) this.integrations.set(key, entry);
    }
    return entry;
  }
}

function integrationKey(sourceSystemId: number, integrationName: string): string {
  return `${sourceSystemId}\u0000${integrationName}`;
}

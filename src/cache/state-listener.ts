import { Client } from 'pg';

/** How the listener reports to its owner. */
export interface StateListenerEvents {
  /** A notification on the channel: its payload. */
  onPayload(payload: string): void;
  /** The connection listens (again) under a new epoch; notifications sent before may have been missed. */
  onListening(epoch: number): void;
  /** The connection is gone; until `onListening`, nothing is known about changes. */
  onDown(error: Error | null): void;
}

export interface StateListenerOptions {
  connectionString: string;
  channel: string;
  /** How often the connection is proven alive, ms. */
  heartbeatMs: number;
  /** A heartbeat unanswered this long counts as a dead connection, ms. */
  heartbeatTimeoutMs: number;
  connectTimeoutMs: number;
  /** The connection's application_name; default `tidemark-listener`. */
  applicationName?: string;
  /** Reconnect backoff: first and longest wait, ms. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

/**
 * One dedicated Postgres connection that `LISTEN`s on a channel, proves itself alive with a heartbeat query, and
 * reconnects with capped exponential backoff when it drops.
 *
 * `confirmedAt` is the send time of the latest heartbeat answered on the current connection. Postgres delivers a
 * notification to a listening session before the answer to any query sent after the notifying commit, and the
 * driver emits it before resolving that query; so every change committed before `confirmedAt` has been reported
 * through `onPayload` by the time `confirmedAt` moves past it.
 */
export class StateListener {
  /** 0 while not listening; a new positive number for each connection that listens. */
  epoch = 0;
  /** Send time (ms since epoch) of the latest heartbeat answered on the current connection; 0 before one. */
  confirmedAt = 0;
  private nextEpoch = 1;
  private client: Client | null = null;
  private heartbeat: NodeJS.Timeout | undefined;
  private reconnect: NodeJS.Timeout | undefined;
  private backoffMs: number;
  private stopped = false;

  constructor(
    private readonly options: StateListenerOptions,
    private readonly events: StateListenerEvents,
  ) {
    this.backoffMs = options.minBackoffMs ?? 100;
  }

  /** Starts connecting in the background; never throws. */
  start(): void {
    this.stopped = false;
    void this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnect);
    clearInterval(this.heartbeat);
    const client = this.client;
    this.client = null;
    this.epoch = 0;
    if (client) await client.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new Client({
      connectionString: this.options.connectionString,
      connectionTimeoutMillis: this.options.connectTimeoutMs,
      application_name: this.options.applicationName ?? 'tidemark-listener',
      keepAlive: true,
    });
    this.client = client;
    let failed = false;
    const fail = (error: Error | null) => {
      if (failed) return;
      failed = true;
      this.lost(client, error);
    };
    client.on('error', (error) => fail(error));
    client.on('end', () => fail(null));
    client.on('notification', (message) => {
      if (this.client === client && message.channel === this.options.channel)
        this.events.onPayload(message.payload ?? '*');
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${quoteIdentifier(this.options.channel)}`);
    } catch (error) {
      fail(error as Error);
      return;
    }
    if (this.stopped || this.client !== client) {
      await client.end().catch(() => undefined);
      return;
    }
    this.backoffMs = this.options.minBackoffMs ?? 100;
    this.epoch = this.nextEpoch++;
    this.confirmedAt = 0;
    this.events.onListening(this.epoch);
    const epoch = this.epoch;
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => void this.beat(client, epoch, fail), this.options.heartbeatMs);
    this.heartbeat.unref();
    void this.beat(client, epoch, fail);
  }

  private async beat(client: Client, epoch: number, fail: (error: Error | null) => void): Promise<void> {
    const sentAt = Date.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.query('SELECT 1'),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`listener heartbeat unanswered for ${this.options.heartbeatTimeoutMs} ms`)),
            this.options.heartbeatTimeoutMs,
          );
        }),
      ]);
      if (this.client === client && this.epoch === epoch && sentAt > this.confirmedAt) this.confirmedAt = sentAt;
    } catch (error) {
      fail(error as Error);
    } finally {
      clearTimeout(timer);
    }
  }

  private lost(client: Client, error: Error | null): void {
    if (this.client !== client) return;
    this.client = null;
    this.epoch = 0;
    this.confirmedAt = 0;
    clearInterval(this.heartbeat);
    void client.end().catch(() => undefined);
    this.events.onDown(error);
    if (this.stopped) return;
    const wait = this.backoffMs;
    this.backoffMs = Math.min(this.options.maxBackoffMs ?? 5_000, this.backoffMs * 2);
    clearTimeout(this.reconnect);
    this.reconnect = setTimeout(() => void this.connect(), wait);
    this.reconnect.unref();
  }
}

function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

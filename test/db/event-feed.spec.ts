import { Registry } from 'prom-client';
import { Subject } from 'rxjs';
import type { DataSource } from 'typeorm';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EventFeed } from '../../src/events/event-feed';
import { EventMetrics } from '../../src/events/event-metrics';
import type { AppConfig } from '../../src/config';
import type { OutboxEvent } from '../../src/events/event-types';
import type { EventWakeups, Wakeup } from '../../src/events/event-wakeups';
import type { MetricsService } from '../../src/observability/metrics.service';
import { createDataSource, runMigrationsLocked } from '../../src/persistence/data-source';
import { OutboxRepository, type StreamPosition } from '../../src/persistence/outbox.repository';
import { createTestDatabase, type TestDatabase } from '../support/database';

async function eventually(probe: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** An outbox whose counts wait for `release` while `hold` is set, so a test can act while one is on its way. */
class HeldOutbox extends OutboxRepository {
  hold = false;
  countsStarted = 0;
  private waiting: Array<() => void> = [];

  release(): void {
    this.hold = false;
    for (const wake of this.waiting.splice(0)) wake();
  }

  override async countAfter(after: StreamPosition, limit: number) {
    this.countsStarted += 1;
    if (this.hold) await new Promise<void>((resolve) => this.waiting.push(resolve));
    return super.countAfter(after, limit);
  }
}

describe('event feed on real Postgres', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let outbox: HeldOutbox;
  let registry: Registry;
  let wakeups: Subject<Wakeup>;
  let feed: EventFeed;
  const sql = (text: string, params: unknown[] = []): Promise<Array<Record<string, unknown>>> =>
    dataSource.query(text, params);
  const insert = (subjects: string[]) =>
    sql(
      `INSERT INTO event (type, source, subject, data)
       SELECT 'tidemark.integration.paused', 'urn:test', s, '{}' FROM unnest($1::text[]) WITH ORDINALITY AS t(s, n)
       ORDER BY n`,
      [subjects],
    );
  const eventsTotal = async () =>
    (await registry.getSingleMetric('tidemark_events_total')!.get()).values.map((v) => [v.labels.type, v.value]);

  beforeAll(async () => {
    db = await createTestDatabase('feed');
    dataSource = createDataSource({ url: db.url, poolSize: 4, connectTimeoutMs: 5_000 });
    await dataSource.initialize();
    await runMigrationsLocked(dataSource);
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  beforeEach(async () => {
    await sql('TRUNCATE event CASCADE');
    outbox = new HeldOutbox(dataSource);
    registry = new Registry();
    wakeups = new Subject<Wakeup>();
    feed = new EventFeed(
      outbox,
      { wakeups } as unknown as EventWakeups,
      new EventMetrics({ registry } as MetricsService, outbox, { events: { webhooks: [] } } as unknown as AppConfig),
    );
    feed.onApplicationBootstrap();
    // The feed follows the stream from where it started, which it reads at bootstrap.
    await (feed as unknown as { start(): Promise<StreamPosition> }).start();
  });

  afterEach(() => feed.onModuleDestroy());

  it('counts every event by type with no stream connected, and hands a stream only what follows its start', async () => {
    await insert(['1/a', '1/b', '1/c']);
    wakeups.next('events');
    await eventually(async () => (await eventsTotal()).length === 1 && (await eventsTotal())[0][1] === 3);
    const got: OutboxEvent[] = [];
    const subscription = feed.stream(null).subscribe((event) => got.push(event));
    await insert(['1/d']);
    wakeups.next('events');
    await eventually(() => got.length === 1);
    subscription.unsubscribe();
    expect(got.map((e) => e.subject)).toStrictEqual(['1/d']);
    expect(await eventsTotal()).toStrictEqual([['tidemark.integration.paused', 4]]);
  });

  it('a stream that connects while events are being counted gets them from the feed, each counted once', async () => {
    outbox.hold = true;
    const countsBefore = outbox.countsStarted;
    await insert(['1/a', '1/b']);
    wakeups.next('events');
    await eventually(() => outbox.countsStarted > countsBefore);
    const got: OutboxEvent[] = [];
    const subscription = feed.stream(null).subscribe((event) => got.push(event));
    outbox.release();
    await eventually(() => got.length === 2);
    await insert(['1/c']);
    wakeups.next('events');
    await eventually(() => got.length === 3);
    subscription.unsubscribe();
    expect(got.map((e) => e.subject)).toStrictEqual(['1/a', '1/b', '1/c']);
    expect(await eventsTotal()).toStrictEqual([['tidemark.integration.paused', 3]]);
  });
});

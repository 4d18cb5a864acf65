import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Subject } from 'rxjs';
import type { DataSource } from 'typeorm';
import { StateListener } from '../cache/state-listener';
import { APP_CONFIG, type AppConfig } from '../config';
import { EVENT_CHANNEL } from '../persistence/event-outbox';
import { TIDEMARK_DATA_SOURCE } from '../persistence/data-source';

/** What a wake-up says: events were committed (`events`), or deliveries were (`deliveries`). */
export type Wakeup = 'events' | 'deliveries';

/**
 * One `LISTEN tidemark_events` connection per replica. The outbox's triggers notify on commit, so the stream and
 * the webhook dispatcher of every replica react at once to what any replica committed; polls cover notifications
 * lost while the connection was down (a reconnect wakes both, since some may have been missed).
 */
@Injectable()
export class EventWakeups implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('EventWakeups');
  private readonly listener: StateListener;
  private wasDown = false;
  readonly wakeups = new Subject<Wakeup>();

  constructor(@Inject(TIDEMARK_DATA_SOURCE) dataSource: DataSource, @Inject(APP_CONFIG) config: AppConfig) {
    const url = (dataSource.options as { url?: string }).url;
    this.listener = new StateListener(
      {
        connectionString: url ?? '',
        channel: EVENT_CHANNEL,
        heartbeatMs: 5_000,
        heartbeatTimeoutMs: 5_000,
        connectTimeoutMs: config.database.connectTimeoutMs,
        applicationName: 'tidemark-events',
      },
      {
        onPayload: (payload) => this.wakeups.next(payload === 'd' ? 'deliveries' : 'events'),
        onListening: () => {
          if (this.wasDown) this.logger.log('event notifications: listening again');
          this.wasDown = false;
          this.wakeups.next('events');
          this.wakeups.next('deliveries');
        },
        onDown: (error) => {
          if (!this.wasDown)
            this.logger.warn(`event notifications: connection lost (${error?.message ?? 'closed'}); polling meanwhile`);
          this.wasDown = true;
        },
      },
    );
  }

  onApplicationBootstrap(): void {
    this.listener.start();
  }

  async onApplicationShutdown(): Promise<void> {
    this.wakeups.complete();
    await this.listener.stop();
  }
}

import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config';
import { OutboxRepository } from '../persistence/outbox.repository';

/** Events are pruned at most this often, in batches of PRUNE_BATCH rows, so pruning never holds up writers. */
const PRUNE_EVERY_MS = 60_000;
const PRUNE_BATCH = 1_000;
/** Most batches per pass; the rest waits for the next pass. */
const MAX_BATCHES = 100;

/** Deletes events older than EVENT_RETENTION_DAYS (with their finished deliveries), on every replica, in batches. */
@Injectable()
export class EventPruner implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('EventPruner');
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly repository: OutboxRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.prune(), PRUNE_EVERY_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** @returns events deleted */
  async prune(): Promise<number> {
    let total = 0;
    try {
      for (let batch = 0; batch < MAX_BATCHES; batch++) {
        const deleted = await this.repository.pruneEvents(this.config.events.retentionDays, PRUNE_BATCH);
        total += deleted;
        if (deleted < PRUNE_BATCH) break;
      }
    } catch (error) {
      this.logger.warn(`pruning events failed: ${(error as Error).message}`);
    }
    return total;
  }
}

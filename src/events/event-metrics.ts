import { Inject, Injectable, Logger } from '@nestjs/common';
import { Counter, Gauge, Histogram } from 'prom-client';
import { APP_CONFIG, type AppConfig } from '../config';
import { MetricsService } from '../observability/metrics.service';
import { OutboxRepository } from '../persistence/outbox.repository';

/** A delivery's HTTP exchange, s: loopback to the 15 s timeout. */
const DELIVERY_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15];

/** How a delivery attempt ended: `delivered` (2xx), `failed` (will be retried) or `exhausted` (given up). */
export type DeliveryOutcome = 'delivered' | 'failed' | 'exhausted';

/**
 * The event metrics, in the app's registry:
 * - `tidemark_events_total{type}`: events committed to the outbox, counted by this replica's stream reader as it
 *   reads them. Every replica reads every event, so aggregate across replicas with `max`, not `sum`.
 * - `tidemark_webhook_deliveries_total{subscription,outcome}` and `tidemark_webhook_delivery_duration_seconds`:
 *   attempts this replica made (sum across replicas).
 * - `tidemark_outbox_lag_seconds`: age of the oldest event with a delivery to a configured webhook still pending,
 *   read from Postgres at scrape time (the same on every replica).
 */
@Injectable()
export class EventMetrics {
  private readonly logger = new Logger('EventMetrics');
  private readonly eventsTotal: Counter<'type'>;
  private readonly deliveriesTotal: Counter<'subscription' | 'outcome'>;
  private readonly deliveryDuration: Histogram<'subscription'>;

  constructor(
    metrics: MetricsService,
    outbox: OutboxRepository,
    @Inject(APP_CONFIG) config: Pick<AppConfig, 'events'>,
  ) {
    const subscriptions = config.events.webhooks.map((hook) => hook.name);
    const registers = [metrics.registry];
    this.eventsTotal = new Counter({
      name: 'tidemark_events_total',
      help: 'Events committed to the outbox, by type, as this replica read them (every replica reads every event: aggregate with max).',
      labelNames: ['type'],
      registers,
    });
    this.deliveriesTotal = new Counter({
      name: 'tidemark_webhook_deliveries_total',
      help: 'Webhook delivery attempts made by this replica, by subscription and outcome (delivered, failed, exhausted).',
      labelNames: ['subscription', 'outcome'],
      registers,
    });
    this.deliveryDuration = new Histogram({
      name: 'tidemark_webhook_delivery_duration_seconds',
      help: 'Webhook delivery attempts made by this replica, from request to answer (or error), in seconds.',
      labelNames: ['subscription'],
      buckets: DELIVERY_DURATION_BUCKETS,
      registers,
    });
    const logger = this.logger;
    new Gauge({
      name: 'tidemark_outbox_lag_seconds',
      help: 'Age of the oldest event whose delivery to a configured webhook is still pending, by the database clock, in seconds; 0 when none is.',
      registers,
      async collect() {
        try {
          this.set(await outbox.outboxLagSeconds(subscriptions));
        } catch (error) {
          logger.warn(`metrics: reading the outbox lag failed: ${(error as Error).message}`);
        }
      },
    });
  }

  /** `count` events of `type` were read from the outbox. */
  eventSeen(type: string, count = 1): void {
    this.eventsTotal.inc({ type }, count);
  }

  deliveryAttempted(subscription: string, outcome: DeliveryOutcome, seconds: number): void {
    this.deliveriesTotal.inc({ subscription, outcome });
    this.deliveryDuration.observe({ subscription }, seconds);
  }
}

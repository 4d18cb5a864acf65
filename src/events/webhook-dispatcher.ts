import { HttpService } from '@nestjs/axios';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { AxiosResponse } from 'axios';
import { firstValueFrom, type Subscription } from 'rxjs';
import { APP_CONFIG, type AppConfig, type WebhookSubscription } from '../config';
import { OutboxRepository, type ClaimedDelivery } from '../persistence/outbox.repository';
import { EventMetrics } from './event-metrics';
import { EVENT_TYPES, toCloudEvent, type NewEvent } from './event-types';
import { EventWakeups } from './event-wakeups';
import { nextRetryDelayMs } from './retry-schedule';
import { signWebhook } from './webhook-signer';

/** A receiver must answer 2xx within this, ms. */
export const DELIVERY_TIMEOUT_MS = 15_000;
/** A claimed delivery's lease; longer than an attempt can take, so a live replica never loses one it sends. */
const DELIVERY_LEASE_MS = 4 * DELIVERY_TIMEOUT_MS;
/** Deliveries one replica sends at once. */
const MAX_IN_FLIGHT = 32;
/** Events turned into deliveries per statement. */
const FAN_OUT_BATCH = 1_000;
/** How often the dispatcher looks for work without a notification, ms (retries come due, lost notifications). */
const POLL_MS = 1_000;
/** How soon fan-out runs again when a running transaction held later events back, ms. */
const BLOCKED_RETRY_MS = 20;
/** Largest receiver answer read; the body is ignored. */
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * Delivers the outbox to the configured webhooks, on every replica at once: events become deliveries (fan-out,
 * one replica per subscription at a time), and each replica claims due deliveries with `FOR UPDATE SKIP LOCKED`,
 * signs them (Standard Webhooks) and POSTs the CloudEvent. A 2xx is success; anything else is retried on
 * WEBHOOK_RETRY_SCHEDULE, then the delivery is exhausted and a `tidemark.webhook.exhausted` event reports it. Only
 * the oldest pending delivery of each (subscription, integration) is claimable, so events of one integration
 * reach a subscription in order.
 */
@Injectable()
export class WebhookDispatcher implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Webhooks');
  private readonly subscriptions: Map<string, WebhookSubscription>;
  private readonly names: string[];
  private inFlight = 0;
  private pumping = false;
  private pumpAgain = false;
  private fanningOut = false;
  private fanOutAgain = false;
  private stopped = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private poll: NodeJS.Timeout | undefined;
  private wakeups: Subscription | undefined;
  private readonly sending = new Set<Promise<void>>();

  constructor(
    private readonly repository: OutboxRepository,
    private readonly http: HttpService,
    private readonly events: EventWakeups,
    private readonly metrics: EventMetrics,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.subscriptions = new Map(config.events.webhooks.map((hook) => [hook.name, hook]));
    this.names = [...this.subscriptions.keys()];
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.names.length === 0) return;
    await this.repository.ensureCursors(this.names);
    this.wakeups = this.events.wakeups.subscribe((wakeup) => (wakeup === 'events' ? this.fanOut() : this.pump()));
    this.poll = setInterval(() => {
      this.fanOut();
      this.pump();
    }, POLL_MS);
    this.poll.unref();
    this.fanOut();
    this.pump();
  }

  /** Stops claiming and waits for the attempts on their way (each ends within the delivery timeout). */
  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearInterval(this.poll);
    for (const timer of this.timers) clearTimeout(timer);
    this.wakeups?.unsubscribe();
    await Promise.allSettled([...this.sending]);
  }

  private later(ms: number, work: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      work();
    }, ms);
    timer.unref();
    this.timers.add(timer);
  }

  /** Turns new events into deliveries of each subscription; one pass at a time, another if asked meanwhile. */
  private fanOut(): void {
    if (this.stopped) return;
    if (this.fanningOut) {
      this.fanOutAgain = true;
      return;
    }
    this.fanningOut = true;
    void this.fanOutAll()
      .catch((error: Error) => this.logger.warn(`creating deliveries failed: ${error.message}`))
      .finally(() => {
        this.fanningOut = false;
        if (this.fanOutAgain) {
          this.fanOutAgain = false;
          this.fanOut();
        }
      });
  }

  private async fanOutAll(): Promise<void> {
    let blocked = false;
    for (const hook of this.subscriptions.values()) {
      for (;;) {
        const result = await this.repository.fanOut(hook.name, hook.types, FAN_OUT_BATCH);
        blocked ||= result.blocked;
        if (result.scanned < FAN_OUT_BATCH) break;
      }
    }
    if (blocked) this.later(BLOCKED_RETRY_MS, () => this.fanOut());
  }

  /** Claims and sends due deliveries while slots are free; one claim loop at a time. */
  private pump(): void {
    if (this.stopped) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    void this.claimWhileFree()
      .catch((error: Error) => this.logger.warn(`claiming deliveries failed: ${error.message}`))
      .finally(() => {
        this.pumping = false;
        if (this.pumpAgain) {
          this.pumpAgain = false;
          this.pump();
        }
      });
  }

  private async claimWhileFree(): Promise<void> {
    while (!this.stopped && this.inFlight < MAX_IN_FLIGHT) {
      const free = MAX_IN_FLIGHT - this.inFlight;
      const claimed = await this.repository.claimDeliveries(this.names, this.config.replicaId, free, DELIVERY_LEASE_MS);
      for (const delivery of claimed) this.start(delivery);
      if (claimed.length < free) return;
    }
  }

  private start(delivery: ClaimedDelivery): void {
    this.inFlight += 1;
    const sending = this.deliver(delivery)
      .catch((error: Error) =>
        this.logger.warn(`delivery ${delivery.id}: recording the attempt failed: ${error.message}`),
      )
      .finally(() => {
        this.inFlight -= 1;
        this.sending.delete(sending);
        this.pump();
      });
    this.sending.add(sending);
  }

  private async deliver(delivery: ClaimedDelivery): Promise<void> {
    const hook = this.subscriptions.get(delivery.subscription);
    if (!hook) return;
    const body = JSON.stringify(toCloudEvent(delivery.event));
    const headers = signWebhook(hook.key, {
      id: delivery.event.id,
      timestampSeconds: Math.floor(Date.now() / 1000),
      body,
    });
    const startedAt = performance.now();
    let status: number | null = null;
    let error: string | null = null;
    try {
      const response: AxiosResponse = await firstValueFrom(
        this.http.post(hook.url, body, {
          headers: { ...headers, 'content-type': 'application/json', 'user-agent': 'tidemark-webhooks' },
          timeout: DELIVERY_TIMEOUT_MS,
          maxRedirects: 0,
          proxy: false,
          responseType: 'arraybuffer',
          maxContentLength: MAX_ANSWER_BYTES,
          validateStatus: () => true,
        }),
      );
      status = response.status;
      if (status < 200 || status > 299) error = `HTTP ${status}`;
    } catch (failure) {
      error = describeFailure(failure);
    }
    const latencyMs = Math.round(performance.now() - startedAt);
    if (error === null) {
      await this.repository.recordDelivered(delivery, status!, latencyMs);
      this.metrics.deliveryAttempted(hook.name, 'delivered', latencyMs / 1000);
      return;
    }
    await this.recordFailure(delivery, { httpStatus: status, error, latencyMs });
  }

  private async recordFailure(
    delivery: ClaimedDelivery,
    failure: { httpStatus: number | null; error: string; latencyMs: number },
  ): Promise<void> {
    const retryInMs = nextRetryDelayMs(this.config.events.retryScheduleMs, delivery.attempts, Math.random());
    const exhaustedEvent = retryInMs === null ? this.exhaustedEvent(delivery, failure) : null;
    const outcome = await this.repository.recordFailed(delivery, failure, retryInMs, exhaustedEvent);
    this.metrics.deliveryAttempted(
      delivery.subscription,
      outcome === 'exhausted' ? 'exhausted' : 'failed',
      failure.latencyMs / 1000,
    );
    if (outcome === 'exhausted') {
      this.logger.warn(
        `delivery ${delivery.id} of event ${delivery.event.id} to ${delivery.subscription} exhausted after ${delivery.attempts} attempts: ${failure.error}`,
      );
    } else if (retryInMs !== null && retryInMs < POLL_MS) {
      this.later(retryInMs, () => this.pump());
    }
  }

  /** The event reporting a given-up delivery; none for a delivery of such an event (no report of a report). */
  private exhaustedEvent(
    delivery: ClaimedDelivery,
    failure: { httpStatus: number | null; error: string },
  ): NewEvent | null {
    const event = delivery.event;
    if (event.type === EVENT_TYPES.webhookExhausted) return null;
    return {
      type: EVENT_TYPES.webhookExhausted,
      source: this.config.events.source,
      subject: event.subject,
      integrationId: event.integrationId,
      runId: event.runId,
      data: {
        subscription: delivery.subscription,
        deliveryId: delivery.id,
        eventId: event.id,
        eventType: event.type,
        attempts: delivery.attempts,
        lastStatus: failure.httpStatus,
        lastError: failure.error,
      },
    };
  }
}

/** A short reason for a failed request, without the URL (it may carry credentials). */
function describeFailure(failure: unknown): string {
  const error = failure as { code?: string; message?: string };
  if (error.code === 'ECONNABORTED' || error.code === 'ETIMEDOUT') return `timeout after ${DELIVERY_TIMEOUT_MS} ms`;
  return error.code ? `network error ${error.code}` : 'request failed';
}

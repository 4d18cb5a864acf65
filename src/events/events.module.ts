import { HttpModule } from '@nestjs/axios';
import { Module } from '@nestjs/common';
import { EventsController } from '../http/events.controller';
import { WebhooksController } from '../http/webhooks.controller';
import { OutboxRepository } from '../persistence/outbox.repository';
import { StalenessRepository } from '../persistence/staleness.repository';
import { EventFeed } from './event-feed';
import { EventMetrics } from './event-metrics';
import { EventPruner } from './event-pruner';
import { EventWakeups } from './event-wakeups';
import { StalenessDecider } from './staleness-decider';
import { DELIVERY_TIMEOUT_MS, WebhookDispatcher } from './webhook-dispatcher';

/**
 * Events: the outbox's readers (the SSE stream and the webhook dispatcher), the staleness decider and the pruner.
 * The outbox is written by the repositories, in the transactions that make the changes. Needs the global config,
 * persistence and observability modules.
 */
@Module({
  imports: [HttpModule.register({ timeout: DELIVERY_TIMEOUT_MS, maxRedirects: 0, proxy: false })],
  controllers: [EventsController, WebhooksController],
  providers: [
    OutboxRepository,
    StalenessRepository,
    EventWakeups,
    EventMetrics,
    EventFeed,
    WebhookDispatcher,
    StalenessDecider,
    EventPruner,
  ],
  exports: [OutboxRepository, EventFeed, StalenessDecider, EventPruner],
})
export class EventsModule {}

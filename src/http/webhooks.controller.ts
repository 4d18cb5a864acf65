import { Controller, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { APP_CONFIG, type AppConfig } from '../config';
import { OutboxRepository } from '../persistence/outbox.repository';
import { RequireScope } from './auth/access.decorators';
import {
  DeliveryPage,
  DeliveryPathParams,
  DeliveryView,
  ListDeliveriesQuery,
  SubscriptionPathParams,
  toDeliveryView,
} from './dto/events';
import { ProblemException } from './problem';

const DEFAULT_LIMIT = 50;

/** Error responses, security and headers are added to the document in ./openapi-document.ts. */
@ApiTags('webhooks')
@Controller('webhooks')
export class WebhooksController {
  private readonly names: ReadonlySet<string>;

  constructor(
    private readonly outbox: OutboxRepository,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.names = new Set(config.events.webhooks.map((hook) => hook.name));
  }

  @Get(':name/deliveries')
  @ApiOperation({
    operationId: 'listWebhookDeliveries',
    summary: "A subscription's deliveries, newest first: status, attempts, latency and next try.",
    description:
      'The deliveries of one WEBHOOKS subscription, a page at a time: pass `nextCursor` as `cursor` for the next. 404 when no subscription has this name.',
  })
  @ApiOkResponse({ type: DeliveryPage, description: 'One page.' })
  async list(@Param() params: SubscriptionPathParams, @Query() query: ListDeliveriesQuery): Promise<DeliveryPage> {
    this.requireSubscription(params.name);
    const limit = query.limit ? Number(query.limit) : DEFAULT_LIMIT;
    const beforeId = query.cursor === undefined ? undefined : decodeDeliveriesCursor(query.cursor);
    const page = await this.outbox.listDeliveries(params.name, { limit, beforeId, status: query.status });
    const last = page.items.at(-1);
    return {
      items: page.items.map(toDeliveryView),
      nextCursor: page.hasMore && last ? encodeDeliveriesCursor(last.id) : null,
    };
  }

  @Post(':name/deliveries/:id/retry')
  @RequireScope('operate')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'retryWebhookDelivery',
    summary: 'Retry a delivery now, whatever its status.',
    description:
      'The delivery becomes pending and due now; an exhausted or delivered one starts its retry schedule again. 404 when the subscription has no such delivery. A request body, if any, is ignored.',
  })
  @ApiOkResponse({ type: DeliveryView, description: 'The delivery, pending.' })
  async retry(@Param() params: DeliveryPathParams): Promise<DeliveryView> {
    this.requireSubscription(params.name);
    const delivery = await this.outbox.retryDelivery(params.name, params.id);
    if (!delivery) throw ProblemException.notFound(`subscription ${params.name} has no delivery ${params.id}`);
    return toDeliveryView(delivery);
  }

  private requireSubscription(name: string): void {
    if (!this.names.has(name)) throw ProblemException.notFound(`no webhook subscription named ${JSON.stringify(name)}`);
  }
}

function encodeDeliveriesCursor(beforeId: string): string {
  return Buffer.from(JSON.stringify(['d', beforeId])).toString('base64url');
}

/** @throws ProblemException 400 when `text` is not a deliveries cursor from this API */
function decodeDeliveriesCursor(text: string): string {
  try {
    if (/^[A-Za-z0-9_-]{1,1024}$/.test(text)) {
      const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
      if (
        Array.isArray(value) &&
        value.length === 2 &&
        value[0] === 'd' &&
        typeof value[1] === 'string' &&
        /^[1-9]\d{0,17}$/.test(value[1])
      ) {
        return value[1];
      }
    }
  } catch {
    // not JSON: invalid like any other text
  }
  throw ProblemException.invalidParameters([
    { name: 'cursor', reason: 'must be a cursor returned by this API (nextCursor)' },
  ]);
}

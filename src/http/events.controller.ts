import { Controller, Headers, Query, Sse, type MessageEvent } from '@nestjs/common';
import { ApiHeader, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { filter, interval, map, merge, startWith, takeUntil, type Observable } from 'rxjs';
import { EventFeed } from '../events/event-feed';
import { matchesType, toCloudEvent } from '../events/event-types';
import { OutboxRepository } from '../persistence/outbox.repository';
import { EventStreamQuery } from './dto/events';
import { ProblemException } from './problem';

/** A comment keeps idle connections (and the proxies on their way) from timing out, ms. */
export const HEARTBEAT_MS = 15_000;
const LAST_EVENT_ID = /^[1-9]\d{0,17}$/;

/** Error responses, security and headers are added to the document in ./openapi-document.ts. */
@ApiTags('events')
@Controller('events')
export class EventsController {
  constructor(
    private readonly feed: EventFeed,
    private readonly outbox: OutboxRepository,
  ) {}

  @Sse()
  @ApiOperation({
    operationId: 'streamEvents',
    summary: 'Live stream of events (Server-Sent Events); each `data` is a CloudEvents 1.0 JSON event.',
    description:
      'Each SSE `id` is the outbox id. Reconnect with `Last-Event-ID` to get what was missed, within EVENT_RETENTION_DAYS. A comment is sent every 15 s.',
  })
  @ApiProduces('text/event-stream')
  @ApiHeader({
    name: 'Last-Event-ID',
    required: false,
    description: 'The last SSE id received; replay starts after it.',
  })
  @ApiOkResponse({
    description: 'An endless text/event-stream: `id` and `data` per event, comments as heartbeats.',
    content: { 'text/event-stream': { schema: { type: 'string' } } },
  })
  async stream(
    @Query() query: EventStreamQuery,
    @Headers('last-event-id') lastEventId: string | undefined,
  ): Promise<Observable<MessageEvent>> {
    let from = null;
    if (lastEventId !== undefined && lastEventId !== '') {
      if (!LAST_EVENT_ID.test(lastEventId)) {
        throw ProblemException.invalidParameters([
          { name: 'Last-Event-ID', reason: 'must be an SSE id sent by this stream' },
        ]);
      }
      from = await this.outbox.positionOf(lastEventId);
    }
    const types = query.types?.split(',');
    const subjectPrefix = query.sourceSystemId === undefined ? null : `${Number(query.sourceSystemId)}/`;
    const events = this.feed.stream(from).pipe(
      filter((event) => types === undefined || matchesType(types, event.type)),
      filter((event) => subjectPrefix === null || event.subject.startsWith(subjectPrefix)),
      map((event): MessageEvent => ({ id: event.id, data: toCloudEvent(event) })),
    );
    const heartbeats = interval(HEARTBEAT_MS).pipe(map((): MessageEvent => ({ comment: 'heartbeat' })));
    // The opening comment sends the response head at once, before any event.
    return merge(events, heartbeats).pipe(startWith({ comment: 'open' }), takeUntil(this.feed.closed));
  }
}

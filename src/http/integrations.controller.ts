import { Controller, Get, Param, Query, Req, Res } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiForbiddenResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiSecurity,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { StateCache, type Rendered } from '../cache/state-cache';
import { StateRepository } from '../persistence/state.repository';
import type { IntegrationRecord } from '../persistence/types';
import { decodeIntegrationsCursor, decodeRunsCursor, encodeRunsCursor } from './cursor';
import { IntegrationPathParams, ListIntegrationsQuery, ListRunsQuery } from './dto/requests';
import { IntegrationPage, IntegrationStateView, RunPage, toRunView } from './dto/views';
import { ProblemException } from './problem';
import { CACHE_CONTROL, JSON_CONTENT_TYPE, etagMatches, renderIntegration, renderPage } from './rendered';

const DEFAULT_LIMIT = 50;

@ApiTags('integrations')
@ApiBearerAuth('bearer')
@ApiSecurity('apiKey')
@ApiBadRequestResponse({ description: 'A parameter broke a rule (problem+json naming it).' })
@ApiUnauthorizedResponse({ description: 'No API key, or an unknown one (problem+json, WWW-Authenticate).' })
@ApiForbiddenResponse({
  description: 'The key lacks the `read` scope.',
})
@ApiTooManyRequestsResponse({
  description: 'More than RATE_LIMIT_PER_MINUTE requests from this key (problem+json, Retry-After).',
})
@Controller('integrations')
export class IntegrationsController {
  constructor(
    private readonly repository: StateRepository,
    private readonly cache: StateCache,
  ) {}

  @Get()
  @ApiOperation({ summary: 'List integration states, ordered by sourceSystemId then integrationName.' })
  @ApiOkResponse({ type: IntegrationPage, description: 'With a strong ETag; If-None-Match with it answers 304.' })
  async list(
    @Query() query: ListIntegrationsQuery,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Buffer | undefined> {
    const limit = query.limit ? Number(query.limit) : DEFAULT_LIMIT;
    const sourceSystemId = query.sourceSystemId === undefined ? undefined : Number(query.sourceSystemId);
    const after = query.cursor === undefined ? undefined : decodeIntegrationsCursor(query.cursor);
    const cached = await this.cache.page(request.url, () =>
      this.repository.listIntegrations({ limit, sourceSystemId, after }),
    );
    return respond(request, reply, (cached.rendered ??= renderPage(cached.page)));
  }

  @Get(':sourceSystemId/:integrationName')
  @ApiOperation({
    summary: "One integration's state: the last IntegrationStatusDTO, its watermark, schedule and last run.",
  })
  @ApiOkResponse({ type: IntegrationStateView, description: 'With a strong ETag; If-None-Match with it answers 304.' })
  @ApiNotFoundResponse({ description: 'No such integration.' })
  async get(
    @Param() params: IntegrationPathParams,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Buffer | undefined> {
    const cached = await this.cache.integration(Number(params.sourceSystemId), params.integrationName);
    if (!cached) throw notFound(params);
    this.cache.rememberIntegrationUrl(request.url, cached);
    return respond(request, reply, (cached.rendered ??= renderIntegration(cached.record)));
  }

  @Get(':sourceSystemId/:integrationName/runs')
  @ApiOperation({ summary: 'Run history, newest first.' })
  @ApiOkResponse({ type: RunPage })
  @ApiNotFoundResponse({ description: 'No such integration.' })
  async runs(@Param() params: IntegrationPathParams, @Query() query: ListRunsQuery): Promise<RunPage> {
    const integration = await this.find(params);
    const limit = query.limit ? Number(query.limit) : DEFAULT_LIMIT;
    const before = query.cursor === undefined ? undefined : decodeRunsCursor(query.cursor).beforeId;
    const page = await this.repository.listRuns(integration.id, { limit, beforeId: before });
    const last = page.items.at(-1);
    return {
      items: page.items.map(toRunView),
      nextCursor: page.hasMore && last ? encodeRunsCursor({ beforeId: last.id }) : null,
    };
  }

  private async find(params: IntegrationPathParams): Promise<IntegrationRecord> {
    const record = await this.repository.findIntegration(Number(params.sourceSystemId), params.integrationName);
    if (!record) throw notFound(params);
    return record;
  }
}

function notFound(params: IntegrationPathParams): ProblemException {
  return ProblemException.notFound(
    `no integration with sourceSystemId ${params.sourceSystemId} and integrationName ${JSON.stringify(params.integrationName)}`,
  );
}

/** Answers a rendered state: 304 when the client holds it already (If-None-Match), else the body. */
function respond(request: FastifyRequest, reply: FastifyReply, rendered: Rendered): Buffer | undefined {
  void reply.header('etag', rendered.etag).header('cache-control', CACHE_CONTROL);
  if (etagMatches(request.headers['if-none-match'], rendered.etag)) {
    void reply.code(304);
    return undefined;
  }
  void reply.header('content-type', JSON_CONTENT_TYPE);
  return rendered.body;
}

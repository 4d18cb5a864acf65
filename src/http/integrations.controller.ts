import { Controller, Get, Param, Query, Req, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { StateCache, type Rendered } from '../cache/state-cache';
import { IntegrationsRepository } from '../persistence/integrations.repository';
import { RunsRepository } from '../persistence/runs.repository';
import type { IntegrationRecord } from '../persistence/types';
import { decodeIntegrationsCursor, decodeRunsCursor, encodeRunsCursor } from './cursor';
import { IntegrationPathParams, ListIntegrationsQuery, ListRunsQuery, RunPathParams } from './dto/requests';
import { IntegrationPage, IntegrationStateView, RunPage, RunView, toRunView } from './dto/views';
import { ProblemException } from './problem';
import { CACHE_CONTROL, JSON_CONTENT_TYPE, etagMatches, renderIntegration, renderPage } from './rendered';

const DEFAULT_LIMIT = 50;

/** Error responses, security and headers are added to the document in ./openapi-document.ts. */
@ApiTags('integrations')
@Controller('integrations')
export class IntegrationsController {
  constructor(
    private readonly repository: IntegrationsRepository,
    private readonly runRecords: RunsRepository,
    private readonly cache: StateCache,
  ) {}

  @Get()
  @ApiOperation({
    operationId: 'listIntegrations',
    description:
      'Every configured integration (and those that left the configuration, `enabled: false`), a page at a time: pass `nextCursor` as `cursor` for the next. Send the ETag back in If-None-Match to get 304 while nothing changed.',
    summary: 'List integration states, ordered by sourceSystemId then integrationName.',
  })
  @ApiOkResponse({ type: IntegrationPage, description: 'One page, with a strong ETag.' })
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
    operationId: 'getIntegration',
    description:
      'The eleven IntegrationStatusDTO keys of the last successful run exactly as the upstream sent them (longs as decimal strings), plus the schedule and the last run. Send the ETag back in If-None-Match to get 304 while nothing changed.',
    summary: "One integration's state: the last IntegrationStatusDTO, its watermark, schedule and last run.",
  })
  @ApiOkResponse({ type: IntegrationStateView, description: 'The state, with a strong ETag.' })
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
  @ApiOperation({
    operationId: 'listRuns',
    description:
      'The runs of one integration, newest first, a page at a time. Send the ETag back in If-None-Match to get 304 while nothing changed.',
    summary: 'Run history, newest first.',
  })
  @ApiOkResponse({ type: RunPage, description: 'One page, with a strong ETag.' })
  async runs(
    @Param() params: IntegrationPathParams,
    @Query() query: ListRunsQuery,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Buffer | undefined> {
    const integration = await this.find(params);
    const limit = query.limit ? Number(query.limit) : DEFAULT_LIMIT;
    const before = query.cursor === undefined ? undefined : decodeRunsCursor(query.cursor).beforeId;
    const page = await this.runRecords.listRuns(integration.id, { limit, beforeId: before });
    const last = page.items.at(-1);
    const view: RunPage = {
      items: page.items.map(toRunView),
      nextCursor: page.hasMore && last ? encodeRunsCursor({ beforeId: last.id }) : null,
    };
    const body = Buffer.from(JSON.stringify(view));
    return respond(request, reply, { body, etag: `"r${createHash('sha1').update(body).digest('base64url')}"` });
  }

  @Get(':sourceSystemId/:integrationName/runs/:runId')
  @ApiOperation({
    operationId: 'getRun',
    description:
      'One run, as listed by listRuns and named by the Location of triggerRun; 404 when the run is not of this integration.',
    summary: 'One run of the integration.',
  })
  @ApiOkResponse({ type: RunView, description: 'The run.' })
  async run(@Param() params: RunPathParams): Promise<RunView> {
    const integration = await this.find(params);
    const run = await this.runRecords.findRun(params.runId);
    if (!run || run.integrationId !== integration.id)
      throw ProblemException.notFound(`no run ${params.runId} of this integration`);
    return toRunView(run);
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

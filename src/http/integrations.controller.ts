import { Controller, Get, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiConflictResponse,
  ApiCreatedResponse,
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
import { IntegrationsRepository } from '../persistence/integrations.repository';
import { RunsRepository } from '../persistence/runs.repository';
import { RunInProgressError, type IntegrationRecord } from '../persistence/types';
import { IntegrationControlService } from '../runs/integration-control.service';
import { RequireScope } from './auth/access.decorators';
import { decodeIntegrationsCursor, decodeRunsCursor, encodeRunsCursor } from './cursor';
import { IntegrationPathParams, ListIntegrationsQuery, ListRunsQuery } from './dto/requests';
import { IntegrationPage, IntegrationStateView, RunPage, RunView, toIntegrationView, toRunView } from './dto/views';
import { PROBLEM_TYPES, ProblemException } from './problem';
import { CACHE_CONTROL, JSON_CONTENT_TYPE, etagMatches, renderIntegration, renderPage } from './rendered';

const DEFAULT_LIMIT = 50;

@ApiTags('integrations')
@ApiBearerAuth('bearer')
@ApiSecurity('apiKey')
@ApiBadRequestResponse({ description: 'A parameter broke a rule (problem+json naming it).' })
@ApiUnauthorizedResponse({ description: 'No API key, or an unknown one (problem+json, WWW-Authenticate).' })
@ApiForbiddenResponse({
  description: 'The key lacks the scope: `read` for GETs, `operate` for trigger, pause and resume.',
})
@ApiTooManyRequestsResponse({
  description: 'More than RATE_LIMIT_PER_MINUTE requests from this key (problem+json, Retry-After).',
})
@Controller('integrations')
export class IntegrationsController {
  constructor(
    private readonly repository: IntegrationsRepository,
    private readonly runRecords: RunsRepository,
    private readonly control: IntegrationControlService,
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
    const page = await this.runRecords.listRuns(integration.id, { limit, beforeId: before });
    const last = page.items.at(-1);
    return {
      items: page.items.map(toRunView),
      nextCursor: page.hasMore && last ? encodeRunsCursor({ beforeId: last.id }) : null,
    };
  }

  @Post(':sourceSystemId/:integrationName/runs')
  @RequireScope('operate')
  @HttpCode(201)
  @ApiOperation({ summary: 'Run the integration now; answers when the run has finished.' })
  @ApiCreatedResponse({ type: RunView, description: 'The finished run (succeeded or failed).' })
  @ApiConflictResponse({ description: 'A run of this integration is already going on some replica.' })
  async trigger(@Param() params: IntegrationPathParams): Promise<RunView> {
    const integration = await this.find(params);
    try {
      return toRunView(await this.control.runNow(integration));
    } catch (error) {
      if (error instanceof RunInProgressError) {
        throw new ProblemException({
          type: PROBLEM_TYPES.runInProgress,
          title: 'Run in progress',
          status: 409,
          detail: `run ${error.runId ?? 'unknown'} of this integration is still going; try again when it has finished`,
          runId: error.runId,
        });
      }
      throw error;
    }
  }

  @Post(':sourceSystemId/:integrationName/pause')
  @RequireScope('operate')
  @HttpCode(200)
  @ApiOperation({ summary: 'Pause scheduled runs on every replica (manual runs still work).' })
  @ApiOkResponse({ type: IntegrationStateView })
  async pause(@Param() params: IntegrationPathParams): Promise<IntegrationStateView> {
    return toIntegrationView(await this.control.setPaused(await this.find(params), true));
  }

  @Post(':sourceSystemId/:integrationName/resume')
  @RequireScope('operate')
  @HttpCode(200)
  @ApiOperation({ summary: 'Resume scheduled runs from the next fire time after now.' })
  @ApiOkResponse({ type: IntegrationStateView })
  async resume(@Param() params: IntegrationPathParams): Promise<IntegrationStateView> {
    return toIntegrationView(await this.control.setPaused(await this.find(params), false));
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

import { Controller, Get, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { StateCache, type Rendered } from '../cache/state-cache';
import { IntegrationsRepository } from '../persistence/integrations.repository';
import { RunsRepository } from '../persistence/runs.repository';
import { RunInProgressError, type IntegrationRecord } from '../persistence/types';
import { IntegrationControlService } from '../runs/integration-control.service';
import { RequireScope } from './auth/access.decorators';
import { decodeIntegrationsCursor, decodeRunsCursor, encodeRunsCursor } from './cursor';
import { IntegrationPathParams, ListIntegrationsQuery, ListRunsQuery, RunPathParams } from './dto/requests';
import { IntegrationPage, IntegrationStateView, RunPage, RunView, toIntegrationView, toRunView } from './dto/views';
import { PROBLEM_TYPES, ProblemException } from './problem';
import { CACHE_CONTROL, JSON_CONTENT_TYPE, etagMatches, renderIntegration, renderPage } from './rendered';

const DEFAULT_LIMIT = 50;
/** Seconds a client should wait before triggering again while a run of the integration is going on. */
const RUN_IN_PROGRESS_RETRY_AFTER_SECONDS = 5;

/** Error responses, security and headers are added to the document in ./openapi-document.ts. */
@ApiTags('integrations')
@Controller('integrations')
export class IntegrationsController {
  constructor(
    private readonly repository: IntegrationsRepository,
    private readonly runRecords: RunsRepository,
    private readonly control: IntegrationControlService,
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

  @Post(':sourceSystemId/:integrationName/runs')
  @RequireScope('operate')
  @HttpCode(201)
  @ApiOperation({
    operationId: 'triggerRun',
    description:
      'Calls IntegrationStart now and answers 201 with the finished run once it has been recorded, its path in Location. 409 while another run of the integration holds its lease. A request body, if any, is ignored; an empty one with a JSON content type is accepted.',
    summary: 'Run the integration now; answers when the run has finished.',
  })
  @ApiCreatedResponse({ type: RunView, description: 'The finished run (succeeded or failed); Location names it.' })
  async trigger(
    @Param() params: IntegrationPathParams,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<RunView> {
    const integration = await this.find(params);
    let run;
    try {
      run = toRunView(await this.control.runNow(integration));
    } catch (error) {
      if (error instanceof RunInProgressError) {
        throw new ProblemException(
          {
            type: PROBLEM_TYPES.runInProgress,
            title: 'Run in progress',
            status: 409,
            detail: `run ${error.runId ?? 'unknown'} of this integration is still going; try again when it has finished`,
            runId: error.runId,
          },
          { 'retry-after': String(RUN_IN_PROGRESS_RETRY_AFTER_SECONDS) },
        );
      }
      throw error;
    }
    const integrationPath = `/integrations/${params.sourceSystemId}/${encodeURIComponent(params.integrationName)}`;
    void reply.header('location', `${integrationPath}/runs/${run.id}`);
    return run;
  }

  @Post(':sourceSystemId/:integrationName/pause')
  @RequireScope('operate')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'pauseIntegration',
    description: 'Scheduled runs stop on every replica until resumed; manual runs still work. Idempotent.',
    summary: 'Pause scheduled runs on every replica (manual runs still work).',
  })
  @ApiOkResponse({ type: IntegrationStateView, description: 'The paused state.' })
  async pause(@Param() params: IntegrationPathParams): Promise<IntegrationStateView> {
    return toIntegrationView(await this.control.setPaused(await this.find(params), true));
  }

  @Post(':sourceSystemId/:integrationName/resume')
  @RequireScope('operate')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'resumeIntegration',
    description: 'Scheduled runs start again from the next fire time after now. Idempotent.',
    summary: 'Resume scheduled runs from the next fire time after now.',
  })
  @ApiOkResponse({ type: IntegrationStateView, description: 'The resumed state.' })
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

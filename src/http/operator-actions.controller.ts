import { Body, Controller, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import { ApiBody, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ShutdownState } from '../lifecycle/shutdown-state';
import type { PauseChange } from '../persistence/pause.repository';
import { IntegrationsRepository } from '../persistence/integrations.repository';
import { RunInProgressError, type IntegrationRecord } from '../persistence/types';
import {
  IntegrationControlService,
  IntegrationDisabledError,
  PauseEndInPastError,
  type PauseRequestSpec,
} from '../runs/integration-control.service';
import { RequireScope } from './auth/access.decorators';
import { CallerResolver } from './auth/actor';
import {
  NoParameters,
  PauseRequest,
  SourceSystemActionView,
  SourceSystemPathParams,
  UNTIL_RULE,
} from './dto/operator.dto';
import { IntegrationPathParams } from './dto/requests';
import { IntegrationStateView, RunView, toIntegrationView, toRunView } from './dto/views';
import { PROBLEM_TYPES, ProblemException } from './problem';

/** The optional body of the actions that take no parameters: a field in it is refused, never ignored. */
const NO_PARAMETERS_BODY = {
  type: NoParameters,
  required: false,
  description: 'Optional; an empty JSON object. Any field is refused (400), so a misplaced parameter is never ignored.',
};

/** Seconds a client should wait before triggering again while a run of the integration is going on. */
const RUN_IN_PROGRESS_RETRY_AFTER_SECONDS = 5;

/**
 * What operators do: run now, pause with a reason, resume, for one integration or a whole source system. Each needs
 * the `operate` scope, and each is appended to the audit trail with the API key's name as the actor. Error
 * responses, security and headers are added to the document in ./openapi-document.ts.
 */
@ApiTags('integrations')
@RequireScope('operate')
@Controller()
export class OperatorActionsController {
  constructor(
    private readonly repository: IntegrationsRepository,
    private readonly control: IntegrationControlService,
    private readonly callers: CallerResolver,
    private readonly shutdown: ShutdownState,
  ) {}

  @Post('integrations/:sourceSystemId/:integrationName/runs')
  @HttpCode(201)
  @ApiOperation({
    operationId: 'triggerRun',
    description:
      'Calls IntegrationStart now and answers 201 with the finished run once it has been recorded, its path in Location. 409 while another run of the integration holds its lease, and 409 without a run when the integration is disabled (no longer in INTEGRATIONS, or `enabled: false`). A request body, if any, must be an empty JSON object (`{}`); no body at all is the same. The run and its outcome are appended to the audit trail.',
    summary: 'Run the integration now; answers when the run has finished.',
  })
  @ApiCreatedResponse({ type: RunView, description: 'The finished run (succeeded or failed); Location names it.' })
  @ApiBody(NO_PARAMETERS_BODY)
  async trigger(
    @Param() params: IntegrationPathParams,
    @Body() _parameters: NoParameters,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<RunView> {
    const integration = await this.find(params);
    let run: RunView;
    try {
      run = toRunView(await this.control.runNow(integration, this.callers.actorOf(request)));
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
      if (error instanceof IntegrationDisabledError) {
        throw new ProblemException({
          type: PROBLEM_TYPES.conflict,
          title: 'Conflict',
          status: 409,
          detail: error.message,
        });
      }
      throw error;
    }
    // A run that outlasted the start of a shutdown answers after the server began closing: without this its
    // keep-alive connection would hold the close until the idle timeout.
    if (this.shutdown.shuttingDown) void reply.header('connection', 'close');
    const integrationPath = `/integrations/${params.sourceSystemId}/${encodeURIComponent(params.integrationName)}`;
    void reply.header('location', `${integrationPath}/runs/${run.id}`);
    return run;
  }

  @Post('integrations/:sourceSystemId/:integrationName/pause')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'pauseIntegration',
    description:
      'Scheduled runs stop on every replica until resumed, or until `until` when given; manual runs still work. The reason (required) and the API key name are kept with the pause and appended to the audit trail. Pausing a paused integration replaces its reason and end.',
    summary: 'Pause scheduled runs on every replica (manual runs still work), with a reason and an optional end.',
  })
  @ApiOkResponse({ type: IntegrationStateView, description: 'The paused state.' })
  async pause(
    @Param() params: IntegrationPathParams,
    @Body() body: PauseRequest,
    @Req() request: FastifyRequest,
  ): Promise<IntegrationStateView> {
    const spec = pauseSpec(body, this.callers.actorOf(request));
    const integration = await this.find(params);
    return toIntegrationView(await withUntilCheck(() => this.control.pause(integration, spec)));
  }

  @Post('integrations/:sourceSystemId/:integrationName/resume')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'resumeIntegration',
    description:
      'Scheduled runs start again from the next fire time after now. Idempotent; appended to the audit trail. A request body, if any, must be an empty JSON object (`{}`).',
    summary: 'Resume scheduled runs from the next fire time after now.',
  })
  @ApiOkResponse({ type: IntegrationStateView, description: 'The resumed state.' })
  @ApiBody(NO_PARAMETERS_BODY)
  async resume(
    @Param() params: IntegrationPathParams,
    @Body() _parameters: NoParameters,
    @Req() request: FastifyRequest,
  ): Promise<IntegrationStateView> {
    const integration = await this.find(params);
    return toIntegrationView(await this.control.resume(integration, this.callers.actorOf(request)));
  }

  @Post('source-systems/:sourceSystemId/pause')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'pauseSourceSystem',
    description:
      'Pauses, as pauseIntegration does, every integration of the source system that is not paused yet, in one transaction, each with its audit entry. 404 when the source system has no integrations.',
    summary: 'Pause every integration of a source system that is not paused yet, with a reason.',
  })
  @ApiOkResponse({ type: SourceSystemActionView, description: 'The integrations this request paused.' })
  async pauseSourceSystem(
    @Param() params: SourceSystemPathParams,
    @Body() body: PauseRequest,
    @Req() request: FastifyRequest,
  ): Promise<SourceSystemActionView> {
    const spec = pauseSpec(body, this.callers.actorOf(request));
    const sourceSystemId = await this.findSourceSystem(params);
    const changes = await withUntilCheck(() => this.control.pauseSourceSystem(sourceSystemId, spec));
    return sourceSystemAction(sourceSystemId, changes);
  }

  @Post('source-systems/:sourceSystemId/resume')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'resumeSourceSystem',
    description:
      'Resumes, as resumeIntegration does, every paused integration of the source system, in one transaction, each with its audit entry. 404 when the source system has no integrations. A request body, if any, must be an empty JSON object (`{}`).',
    summary: 'Resume every paused integration of a source system.',
  })
  @ApiOkResponse({ type: SourceSystemActionView, description: 'The integrations this request resumed.' })
  @ApiBody(NO_PARAMETERS_BODY)
  async resumeSourceSystem(
    @Param() params: SourceSystemPathParams,
    @Body() _parameters: NoParameters,
    @Req() request: FastifyRequest,
  ): Promise<SourceSystemActionView> {
    const sourceSystemId = await this.findSourceSystem(params);
    const changes = await this.control.resumeSourceSystem(sourceSystemId, this.callers.actorOf(request));
    return sourceSystemAction(sourceSystemId, changes);
  }

  private async find(params: IntegrationPathParams): Promise<IntegrationRecord> {
    const record = await this.repository.findIntegration(Number(params.sourceSystemId), params.integrationName);
    if (!record) {
      throw ProblemException.notFound(
        `no integration with sourceSystemId ${params.sourceSystemId} and integrationName ${JSON.stringify(params.integrationName)}`,
      );
    }
    return record;
  }

  private async findSourceSystem(params: SourceSystemPathParams): Promise<number> {
    const sourceSystemId = Number(params.sourceSystemId);
    const page = await this.repository.listIntegrations({ sourceSystemId, limit: 1 });
    if (page.items.length === 0) {
      throw ProblemException.notFound(`no integrations with sourceSystemId ${params.sourceSystemId}`);
    }
    return sourceSystemId;
  }
}

function pauseSpec(body: PauseRequest, actor: string): PauseRequestSpec {
  const until = body.until === undefined || body.until === null ? null : new Date(body.until);
  if (until !== null && Number.isNaN(until.getTime())) {
    throw ProblemException.invalidParameters([{ name: 'until', reason: UNTIL_RULE }]);
  }
  return { actor, reason: body.reason.trim(), until };
}

/** Runs a pause, answering a 400 naming `until` when it is not in the future. */
async function withUntilCheck<T>(pause: () => Promise<T>): Promise<T> {
  try {
    return await pause();
  } catch (error) {
    if (error instanceof PauseEndInPastError) {
      throw ProblemException.invalidParameters([{ name: 'until', reason: UNTIL_RULE }]);
    }
    throw error;
  }
}

function sourceSystemAction(sourceSystemId: number, changes: PauseChange[]): SourceSystemActionView {
  return {
    sourceSystemId,
    changed: changes.map((change) => ({
      integrationName: change.integrationName,
      paused: change.after.paused,
      nextFireAt: change.nextFireAt?.toISOString() ?? null,
    })),
  };
}

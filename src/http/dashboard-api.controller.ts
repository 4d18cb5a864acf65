import { createHash } from 'node:crypto';
import { Controller, Get, Inject, Param, Query, Req, Res } from '@nestjs/common';
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
import { APP_CONFIG, type AppConfig } from '../config';
import { assessHealth } from '../observability/integration-health';
import { PauseRepository } from '../persistence/pause.repository';
import { RunHistoryRepository } from '../persistence/run-history.repository';
import { StateRepository } from '../persistence/state.repository';
import type { IntegrationRecord, Watermark } from '../persistence/types';
import { describeCron } from '../scheduler/cron-description';
import { nextFireTime } from '../scheduler/cron-schedule';
import { CallerResolver } from './auth/actor';
import { decodeIntegrationsCursor, encodeIntegrationsCursor } from './cursor';
import { decodeIdCursor, encodeIdCursor } from './dashboard-cursors';
import {
  CallerView,
  IntegrationScheduleView,
  OverviewPage,
  OverviewQuery,
  WatermarkHistoryPage,
} from './dto/operator.dto';
import { IntegrationPathParams, ListQuery } from './dto/requests';
import { toIntegrationView } from './dto/views';
import { ProblemException } from './problem';
import { CACHE_CONTROL, JSON_CONTENT_TYPE, etagMatches } from './rendered';

const DEFAULT_LIMIT = 50;
const SPARKLINE_RUNS = 20;
const UPCOMING_FIRE_TIMES = 5;

/** What the dashboard reads beside the state: who the caller is, health at a glance, schedules and history. */
@ApiTags('dashboard')
@ApiBearerAuth('bearer')
@ApiSecurity('apiKey')
@ApiBadRequestResponse({ description: 'A parameter broke a rule (problem+json naming it).' })
@ApiUnauthorizedResponse({ description: 'No API key, or an unknown one (problem+json, WWW-Authenticate).' })
@ApiForbiddenResponse({ description: 'The key lacks the `read` scope.' })
@ApiTooManyRequestsResponse({
  description: 'More than RATE_LIMIT_PER_MINUTE requests from this key (problem+json, Retry-After).',
})
@Controller()
export class DashboardApiController {
  constructor(
    private readonly repository: StateRepository,
    private readonly history: RunHistoryRepository,
    private readonly pauses: PauseRepository,
    private readonly callers: CallerResolver,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get('me')
  @ApiOperation({ summary: "The caller: the API key's name and scopes, and whether the API needs a key at all." })
  @ApiOkResponse({ type: CallerView })
  me(@Req() request: FastifyRequest): CallerView {
    return this.callers.callerOf(request);
  }

  @Get('overview')
  @ApiOperation({
    summary: 'Integrations with their health (fresh, stale, failing, paused, disabled) and recent run durations.',
  })
  @ApiOkResponse({ type: OverviewPage, description: 'With a strong ETag; If-None-Match with it answers 304.' })
  async overview(
    @Query() query: OverviewQuery,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Buffer | undefined> {
    const limit = query.limit ? Number(query.limit) : DEFAULT_LIMIT;
    const page = await this.repository.listIntegrations({
      limit,
      sourceSystemId: query.sourceSystemId === undefined ? undefined : Number(query.sourceSystemId),
      after: query.cursor === undefined ? undefined : decodeIntegrationsCursor(query.cursor),
    });
    const [recent, now] = await Promise.all([
      this.history.recentRuns(
        page.items.map((item) => item.id),
        SPARKLINE_RUNS,
      ),
      this.repository.now(),
    ]);
    const reasons = await this.pauseReasons(page.items.filter((item) => item.paused));
    const last = page.items.at(-1);
    const body: OverviewPage = {
      items: page.items.map((record) => {
        const runs = recent.get(record.id);
        const assessment = assessHealth(
          record,
          runs?.createdAt ?? record.updatedAt,
          now,
          this.config.observability.staleAfterMs,
        );
        return {
          integration: toIntegrationView(record),
          health: assessment.health,
          staleSince: assessment.staleSince.toISOString(),
          staleAfterMs: assessment.staleAfterMs,
          pauseReason: reasons.get(record.id) ?? null,
          recentRuns: (runs?.runs ?? []).map((run) => ({
            id: run.id,
            outcome: run.outcome,
            startedAt: run.startedAt.toISOString(),
            durationMs: run.durationMs,
          })),
        };
      }),
      nextCursor: page.hasMore && last ? encodeIntegrationsCursor(last) : null,
    };
    const rendered = Buffer.from(JSON.stringify(body));
    const etag = `"o${createHash('sha1').update(rendered).digest('base64url')}"`;
    void reply.header('etag', etag).header('cache-control', CACHE_CONTROL);
    if (etagMatches(request.headers['if-none-match'], etag)) {
      void reply.code(304);
      return undefined;
    }
    void reply.header('content-type', JSON_CONTENT_TYPE);
    return rendered;
  }

  @Get('integrations/:sourceSystemId/:integrationName/schedule')
  @ApiOperation({
    summary: 'The schedule in words, its pause (reason, who, until) and the next 5 fire times by the scheduler.',
  })
  @ApiOkResponse({ type: IntegrationScheduleView })
  @ApiNotFoundResponse({ description: 'No such integration.' })
  async schedule(@Param() params: IntegrationPathParams): Promise<IntegrationScheduleView> {
    const record = await this.find(params);
    const [pause, now] = await Promise.all([this.pauses.findPause(record.id), this.repository.now()]);
    const paused = pause?.paused ?? record.paused;
    let after = paused && pause?.until && pause.until > now ? pause.until : now;
    const nextFireTimes: string[] = [];
    for (let i = 0; i < UPCOMING_FIRE_TIMES; i++) {
      after = nextFireTime(record, after);
      nextFireTimes.push(after.toISOString());
    }
    return {
      cron: record.cron,
      description: describeCron(record.cron),
      timeZone: record.timeZone,
      misfirePolicy: record.misfirePolicy,
      enabled: record.enabled,
      paused,
      pause:
        paused && pause
          ? {
              reason: pause.reason ?? '',
              pausedBy: pause.pausedBy,
              pausedAt: pause.pausedAt?.toISOString() ?? null,
              until: pause.until?.toISOString() ?? null,
            }
          : null,
      nextFireTimes,
    };
  }

  @Get('integrations/:sourceSystemId/:integrationName/watermarks')
  @ApiOperation({ summary: 'Watermark history: each change of the stored watermark and the run that made it.' })
  @ApiOkResponse({ type: WatermarkHistoryPage })
  @ApiNotFoundResponse({ description: 'No such integration.' })
  async watermarks(@Param() params: IntegrationPathParams, @Query() query: ListQuery): Promise<WatermarkHistoryPage> {
    const record = await this.find(params);
    const page = await this.history.watermarkChanges(record.id, {
      limit: query.limit ? Number(query.limit) : DEFAULT_LIMIT,
      beforeId: query.cursor === undefined ? undefined : decodeIdCursor('w', query.cursor),
    });
    const last = page.items.at(-1);
    return {
      items: page.items.map((change) => ({
        runId: change.runId,
        trigger: change.trigger,
        finishedAt: change.finishedAt.toISOString(),
        before: change.before && orderedWatermark(change.before),
        after: orderedWatermark(change.after),
        regressed: change.regressed,
      })),
      nextCursor: page.hasMore && last ? encodeIdCursor('w', last.runId) : null,
    };
  }

  private async pauseReasons(paused: IntegrationRecord[]): Promise<Map<string, string>> {
    if (paused.length === 0) return new Map();
    const pauses = await this.pauses.findPauses(paused.map((record) => record.id));
    const reasons = new Map<string, string>();
    for (const [id, pause] of pauses) if (pause.reason) reasons.set(id, pause.reason);
    return reasons;
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
}

/** The documented key order; jsonb hands keys back shortest first. */
function orderedWatermark(watermark: Watermark): Watermark {
  return {
    maxSyncDateTime: watermark.maxSyncDateTime,
    maxSyncDateTimeUtc: watermark.maxSyncDateTimeUtc,
    maxSyncDateMaxPkId: watermark.maxSyncDateMaxPkId,
  };
}

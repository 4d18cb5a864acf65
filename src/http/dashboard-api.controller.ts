import { createHash } from 'node:crypto';
import { Controller, Get, Inject, Param, Query, Req, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { APP_CONFIG, type AppConfig } from '../config';
import { assessHealth } from '../observability/integration-health';
import { PauseRepository } from '../persistence/pause.repository';
import { type RecentRuns, RunHistoryRepository, type RunSummary } from '../persistence/run-history.repository';
import { IntegrationsRepository } from '../persistence/integrations.repository';
import type { IntegrationRecord, Watermark } from '../persistence/types';
import { describeCron } from '../scheduler/cron-description';
import { nextFireTime } from '../scheduler/cron-schedule';
import { CallerResolver } from './auth/actor';
import { decodeIntegrationsCursor, encodeIntegrationsCursor } from './cursor';
import { decodeIdCursor, encodeIdCursor } from './dashboard-cursors';
import {
  CallerView,
  IntegrationScheduleView,
  OverviewItem,
  OverviewPage,
  OverviewQuery,
  RunSummaryView,
  WatermarkHistoryPage,
} from './dto/operator.dto';
import { IntegrationPathParams, ListQuery } from './dto/requests';
import { toIntegrationView } from './dto/views';
import { ProblemException } from './problem';
import { CACHE_CONTROL, JSON_CONTENT_TYPE, etagMatches } from './rendered';

const DEFAULT_LIMIT = 50;
const SPARKLINE_RUNS = 20;
const UPCOMING_FIRE_TIMES = 5;

/**
 * What the dashboard reads beside the state: who the caller is, health at a glance, schedules and history. Error
 * responses, security and headers are added to the document in ./openapi-document.ts.
 */
@ApiTags('dashboard')
@Controller()
export class DashboardApiController {
  constructor(
    private readonly repository: IntegrationsRepository,
    private readonly history: RunHistoryRepository,
    private readonly pauses: PauseRepository,
    private readonly callers: CallerResolver,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Get('me')
  @ApiOperation({
    operationId: 'getCaller',
    description:
      'Who the request is: the API key name that the audit trail records as the actor, its scopes, and whether the API needs a key at all (not in demo mode without keys, nor with AUTH_DISABLED=true).',
    summary: "The caller: the API key's name and scopes, and whether the API needs a key at all.",
  })
  @ApiOkResponse({ type: CallerView, description: 'The caller.' })
  me(@Req() request: FastifyRequest): CallerView {
    return this.callers.callerOf(request);
  }

  @Get('overview')
  @ApiOperation({
    operationId: 'getOverview',
    description:
      'The integrations as listIntegrations pages them, each with its health (fresh, stale, failing, paused or disabled), how long it has been stale, its pause reason and its last 20 runs. Send the ETag back in If-None-Match to get 304 while nothing changed.',
    summary: 'Integrations with their health and recent run durations.',
  })
  @ApiOkResponse({ type: OverviewPage, description: 'One page, with a strong ETag.' })
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
      items: page.items.map((record) => this.overviewItem(record, recent.get(record.id), now, reasons)),
      nextCursor: page.hasMore && last ? encodeIntegrationsCursor(last) : null,
    };
    return renderWithEtag(body, request, reply);
  }

  /** One integration of the overview: its health as of `now`, its pause reason and its recent runs, oldest first. */
  private overviewItem(
    record: IntegrationRecord,
    runs: RecentRuns | undefined,
    now: Date,
    reasons: ReadonlyMap<string, string>,
  ): OverviewItem {
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
      recentRuns: (runs?.runs ?? []).map(runSummaryView),
    };
  }

  @Get('integrations/:sourceSystemId/:integrationName/schedule')
  @ApiOperation({
    operationId: 'getSchedule',
    description:
      "The cron in words, zone and misfire policy, the pause (reason, who, since, until) and the next 5 fire times by the scheduler's own cron code, after the pause's end when it has one; none for a disabled integration, which is never scheduled.",
    summary: 'The schedule in words, its pause and the next 5 fire times.',
  })
  @ApiOkResponse({ type: IntegrationScheduleView, description: 'The schedule.' })
  async schedule(@Param() params: IntegrationPathParams): Promise<IntegrationScheduleView> {
    const record = await this.find(params);
    const [pause, now] = await Promise.all([this.pauses.findPause(record.id), this.repository.now()]);
    const paused = pause?.paused ?? record.paused;
    const after = paused && pause?.until && pause.until > now ? pause.until : now;
    const nextFireTimes = record.enabled ? upcomingFireTimes(record, after).map((at) => at.toISOString()) : [];
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
  @ApiOperation({
    operationId: 'listWatermarks',
    description:
      'Each change of the stored watermark, newest first, with the watermark before and after and the run that made it, a page at a time: pass `nextCursor` as `cursor` for the next.',
    summary: 'Watermark history: each change of the stored watermark and the run that made it.',
  })
  @ApiOkResponse({ type: WatermarkHistoryPage, description: 'One page.' })
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

function runSummaryView(run: RunSummary): RunSummaryView {
  return {
    id: run.id,
    outcome: run.outcome,
    startedAt: run.startedAt.toISOString(),
    durationMs: run.durationMs,
  };
}

/**
 * Sets the overview's strong ETag (a hash of the rendered JSON, so it changes exactly when the body does) and answers
 * 304 without a body when `If-None-Match` holds it.
 */
function renderWithEtag(body: OverviewPage, request: FastifyRequest, reply: FastifyReply): Buffer | undefined {
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

/**
 * The next {@link UPCOMING_FIRE_TIMES} fire times after `after`, fewer when the cron package finds none within its
 * search window (a few years past the current date: a pause far in the future, a yearly cron). Crons and zones are
 * checked at boot, so running out of that window is the only way `nextFireTime` throws here.
 */
function upcomingFireTimes(record: IntegrationRecord, after: Date): Date[] {
  const times: Date[] = [];
  let previous = after;
  try {
    while (times.length < UPCOMING_FIRE_TIMES) {
      previous = nextFireTime(record, previous);
      times.push(previous);
    }
  } catch {
    // Beyond the search window: the times found so far are all that can be told.
  }
  return times;
}

/** The documented key order; jsonb hands keys back shortest first. */
function orderedWatermark(watermark: Watermark): Watermark {
  return {
    maxSyncDateTime: watermark.maxSyncDateTime,
    maxSyncDateTimeUtc: watermark.maxSyncDateTimeUtc,
    maxSyncDateMaxPkId: watermark.maxSyncDateMaxPkId,
  };
}

import { ApiProperty } from '@nestjs/swagger';

/** A .NET long (or bigint id) served as a decimal string, so that no JSON reader rounds it. */
const LONG_PATTERN = '^-?[0-9]+$';
/** A .NET int. */
const INT32 = { type: 'integer', format: 'int32' } as const;
import type { AttemptRecord, IntegrationRecord, RunRecord, Watermark } from '../../persistence/types';
import { orderedObject } from './ordered-object';

export class WatermarkView implements Watermark {
  @ApiProperty({ nullable: true, type: String, description: 'Upstream MaxSyncDateTime text, unchanged.' })
  maxSyncDateTime!: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'Same instant, UTC, .NET "O" form, 7 digits, truncated.' })
  maxSyncDateTimeUtc!: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    pattern: LONG_PATTERN,
    description: '.NET long as a decimal string.',
    example: '9007199254740993',
  })
  maxSyncDateMaxPkId!: string | null;
}

export class AttemptView {
  @ApiProperty({ ...INT32, minimum: 1, description: '1 for the first attempt.' }) attempt!: number;
  @ApiProperty({ format: 'date-time', description: 'UTC.' }) startedAt!: string;
  @ApiProperty({ type: 'number', minimum: 0, description: 'Milliseconds.' }) durationMs!: number;
  @ApiProperty({ ...INT32, nullable: true }) httpStatus!: number | null;
  @ApiProperty({ nullable: true, type: String }) errorCode!: string | null;
  @ApiProperty({ nullable: true, type: String }) error!: string | null;
  @ApiProperty({
    type: 'integer',
    minimum: 0,
    required: false,
    description: 'Wait before the next attempt that Retry-After asked for, ms.',
  })
  retryAfterMs?: number;
}

export class RunView {
  @ApiProperty({ pattern: LONG_PATTERN, description: 'Run id (bigint as a decimal string).', example: '42' })
  id!: string;
  @ApiProperty({ enum: ['schedule', 'manual'] }) trigger!: RunRecord['trigger'];
  @ApiProperty({
    nullable: true,
    type: String,
    format: 'date-time',
    description: 'The fire time (tick) a scheduled run belongs to, UTC.',
  })
  scheduledFor!: string | null;
  @ApiProperty({ description: 'Replica that executed it.' }) replicaId!: string;
  @ApiProperty({ format: 'date-time', description: 'UTC, ms precision.' }) startedAt!: string;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) finishedAt!: string | null;
  @ApiProperty({ enum: ['running', 'succeeded', 'failed', 'abandoned', 'interrupted', 'skipped_breaker_open'] })
  outcome!: RunRecord['outcome'];
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'Stable error code, e.g. not_a_dto, http_status, timeout.',
  })
  errorCode!: string | null;
  @ApiProperty({ nullable: true, type: String }) error!: string | null;
  @ApiProperty({ ...INT32, nullable: true, description: 'HTTP status of the upstream answer.' })
  httpStatus!: number | null;
  @ApiProperty({ nullable: true, type: WatermarkView }) watermarkBefore!: WatermarkView | null;
  @ApiProperty({ nullable: true, type: WatermarkView }) watermarkAfter!: WatermarkView | null;
  @ApiProperty({ type: [AttemptView], description: 'Every HTTP attempt of the run, retries included.' })
  attempts!: AttemptView[];
  @ApiProperty({ description: 'A timeout after the POST was sent (unknown outcome) was retried.' })
  outcomeUnknownRetried!: boolean;
  @ApiProperty({ description: 'The upstream answered an older watermark than the stored one; it was stored.' })
  watermarkRegressed!: boolean;
}

export class ScheduleView {
  @ApiProperty({ example: '0 */5 * * * *', description: 'Cron, seconds first.' }) cron!: string;
  @ApiProperty({ example: 'America/Chicago' }) timeZone!: string;
  @ApiProperty({ enum: ['fire_once_now', 'skip'] }) misfirePolicy!: string;
  @ApiProperty({ nullable: true, type: String, format: 'date-time', description: 'Next fire time, UTC.' })
  nextFireAt!: string | null;
}

/**
 * One integration's state. The first eleven keys are the last successful IntegrationStatusDTO, exactly as in
 * test/fixtures/upstream/expected/*.json; before the first success all but the identity are null.
 */
export class IntegrationStateView {
  @ApiProperty() integrationName!: string;
  @ApiProperty({ ...INT32, description: '.NET int.' }) sourceSystemId!: number;
  @ApiProperty({ nullable: true, type: String, example: '2025-12-10T08:22:52.8100855-06:00' }) lastRunStartDateTime!:
    string | null;
  @ApiProperty({ nullable: true, type: String }) lastRunEndDateTime!: string | null;
  @ApiProperty({ nullable: true, type: String }) processStatusMeaning!: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    example: '2025-12-10T08:22:52.8100855-06:00',
    description: 'Watermark date, upstream text unchanged.',
  })
  maxSyncDateTime!: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    example: '2025-12-10T14:22:52.8100855Z',
    description: 'Watermark instant, UTC "O" form, never rounded up.',
  })
  maxSyncDateTimeUtc!: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    example: 'America/Chicago',
    description:
      'The IANA zone (UPSTREAM_TIMEZONE) maxSyncDateTime was read in because its text had no UTC offset; null when ' +
      'it had one, or without a watermark.',
  })
  maxSyncDateTimeZoneAssumed!: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    pattern: LONG_PATTERN,
    example: '9007199254740993',
    description: 'Watermark PK id, .NET long as a decimal string.',
  })
  maxSyncDateMaxPkId!: string | null;
  @ApiProperty({ nullable: true, type: String, pattern: LONG_PATTERN, description: '.NET long as a decimal string.' })
  sourceId!: string | null;
  @ApiProperty({ nullable: true, type: String }) sourceIdString!: string | null;
  @ApiProperty({
    nullable: true,
    type: 'object',
    additionalProperties: { type: 'string', nullable: true },
    description: "Upstream CustomDatabaseValues, exact values, members in the upstream's order.",
  })
  customDatabaseValues!: Readonly<Record<string, string | null>> | null;
  @ApiProperty({ description: 'False once the pair left the configuration.' }) enabled!: boolean;
  @ApiProperty({ description: 'Paused integrations take no scheduled runs.' }) paused!: boolean;
  @ApiProperty({ type: ScheduleView }) schedule!: ScheduleView;
  @ApiProperty({ nullable: true, type: RunView }) lastRun!: RunView | null;
  @ApiProperty({
    nullable: true,
    type: String,
    format: 'date-time',
    description: 'UTC, when the last successful run finished.',
  })
  lastSucceededAt!: string | null;
  @ApiProperty({ ...INT32, minimum: 0 }) consecutiveFailures!: number;
}

export class IntegrationPage {
  @ApiProperty({ type: [IntegrationStateView] }) items!: IntegrationStateView[];
  @ApiProperty({ nullable: true, type: String, description: 'Pass as `cursor` for the next page; null on the last.' })
  nextCursor!: string | null;
}

export class RunPage {
  @ApiProperty({ type: [RunView] }) items!: RunView[];
  @ApiProperty({ nullable: true, type: String }) nextCursor!: string | null;
}

/**
 * Fields in the documented order whatever the record's origin: a record read back from jsonb has its keys in
 * jsonb's order (shortest first), one built from what a batch finish wrote has them as written.
 */
function toWatermarkView(watermark: Watermark | null): WatermarkView | null {
  if (watermark === null) return null;
  return {
    maxSyncDateTime: watermark.maxSyncDateTime,
    maxSyncDateTimeUtc: watermark.maxSyncDateTimeUtc,
    maxSyncDateMaxPkId: watermark.maxSyncDateMaxPkId,
  };
}

function toAttemptView(attempt: AttemptRecord): AttemptView {
  const view: AttemptView = {
    attempt: attempt.attempt,
    startedAt: attempt.startedAt,
    durationMs: attempt.durationMs,
    httpStatus: attempt.httpStatus,
    errorCode: attempt.errorCode,
    error: attempt.error,
  };
  if (attempt.retryAfterMs !== undefined) view.retryAfterMs = attempt.retryAfterMs;
  return view;
}

export function toRunView(run: RunRecord): RunView {
  return {
    id: run.id,
    trigger: run.trigger,
    scheduledFor: run.scheduledFor?.toISOString() ?? null,
    replicaId: run.replicaId,
    startedAt: run.startedAt.toISOString(),
    finishedAt: run.finishedAt?.toISOString() ?? null,
    outcome: run.outcome,
    errorCode: run.errorCode,
    error: run.error,
    httpStatus: run.httpStatus,
    watermarkBefore: toWatermarkView(run.watermarkBefore),
    watermarkAfter: toWatermarkView(run.watermarkAfter),
    attempts: run.attempts.map(toAttemptView),
    outcomeUnknownRetried: run.outcomeUnknownRetried,
    watermarkRegressed: run.watermarkRegressed,
  };
}

export function toIntegrationView(record: IntegrationRecord): IntegrationStateView {
  const s = record.lastStatus;
  return {
    integrationName: record.integrationName,
    sourceSystemId: record.sourceSystemId,
    lastRunStartDateTime: s?.lastRunStartDateTime ?? null,
    lastRunEndDateTime: s?.lastRunEndDateTime ?? null,
    processStatusMeaning: s?.processStatusMeaning ?? null,
    maxSyncDateTime: s?.maxSyncDateTime ?? null,
    maxSyncDateTimeUtc: s?.maxSyncDateTimeUtc ?? null,
    maxSyncDateTimeZoneAssumed: s === null ? null : record.maxSyncDateTimeZoneAssumed,
    maxSyncDateMaxPkId: s?.maxSyncDateMaxPkId ?? null,
    sourceId: s?.sourceId ?? null,
    sourceIdString: s?.sourceIdString ?? null,
    customDatabaseValues: s?.customDatabaseValues ? orderedObject(s.customDatabaseValues) : null,
    enabled: record.enabled,
    paused: record.paused,
    schedule: {
      cron: record.cron,
      timeZone: record.timeZone,
      misfirePolicy: record.misfirePolicy,
      // Only a schedule that will fire has a next fire time; a paused or disabled one shows null.
      nextFireAt: record.enabled && !record.paused ? (record.nextFireAt?.toISOString() ?? null) : null,
    },
    lastRun: record.lastRun ? toRunView(record.lastRun) : null,
    lastSucceededAt: record.lastSucceededAt?.toISOString() ?? null,
    consecutiveFailures: record.consecutiveFailures,
  };
}

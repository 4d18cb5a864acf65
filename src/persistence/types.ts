import type { UpstreamAttempt } from '../upstream/errors';
import type { IntegrationStatus } from '../upstream/integration-status';

/** What started a run: its integration's schedule, or an operator. */
export type RunTrigger = 'schedule' | 'manual';
/** How a run ended (`running` until it does); the values the `run.outcome` check constraint allows. */
export type RunOutcome = 'running' | 'succeeded' | 'failed' | 'abandoned' | 'interrupted' | 'skipped_breaker_open';

/** A keyset cursor position as the upstream gives it: exact text, its UTC "O" form, and the PK id as a decimal string. */
export interface Watermark {
  maxSyncDateTime: string | null;
  maxSyncDateTimeUtc: string | null;
  maxSyncDateMaxPkId: string | null;
}

/** When and how an integration is scheduled. */
export interface ScheduleSpec {
  cron: string;
  timeZone: string;
}

/** Computes the first fire time strictly after `after` (UTC instants). */
export type NextFireTime = (schedule: ScheduleSpec, after: Date) => Date;

export interface IntegrationRef {
  /** Database id, bigint as a decimal string. */
  id: string;
  sourceSystemId: number;
  integrationName: string;
}

/** One HTTP attempt of a run, as the upstream client recorded it (stored as is in `run.attempts`). */
export type AttemptRecord = UpstreamAttempt;

/** A run row as stored; timestamps are UTC instants (ms precision; they are Tidemark's own clock readings). */
export interface RunRecord {
  id: string;
  integrationId: string;
  trigger: RunTrigger;
  scheduledFor: Date | null;
  replicaId: string;
  startedAt: Date;
  finishedAt: Date | null;
  outcome: RunOutcome;
  errorCode: string | null;
  error: string | null;
  httpStatus: number | null;
  watermarkBefore: Watermark | null;
  watermarkAfter: Watermark | null;
  attempts: AttemptRecord[];
  /** A timeout after the POST was sent (unknown outcome) was followed by a retry. */
  outcomeUnknownRetried: boolean;
  /** The answer's watermark was older than the stored one; it was stored anyway (the upstream's truth). */
  watermarkRegressed: boolean;
}

/** An integration's stored state: identity, schedule, lease-free view of the last status and its last run. */
export interface IntegrationRecord extends IntegrationRef {
  cron: string;
  timeZone: string;
  misfirePolicy: 'fire_once_now' | 'skip';
  enabled: boolean;
  paused: boolean;
  nextFireAt: Date | null;
  /** The last successful IntegrationStatus; null before the first success. */
  lastStatus: IntegrationStatus | null;
  /** The IANA zone the stored watermark's text was read in (it had no offset); null when it had one or is absent. */
  maxSyncDateTimeZoneAssumed: string | null;
  lastSucceededAt: Date | null;
  consecutiveFailures: number;
  /** Bumped on every change of what is served; an opaque decimal string. */
  version: string;
  updatedAt: Date;
  lastRun: RunRecord | null;
}

/** A run that this replica now holds the lease for and must execute, then finish. */
export interface StartedRun {
  runId: string;
  integration: IntegrationRef;
  trigger: RunTrigger;
  scheduledFor: Date | null;
  watermarkBefore: Watermark | null;
  /** Who asked for a manual run: its end and this audit entry are written by one statement (see finishRuns). */
  requestedBy?: string;
}

/** What one claim of due integrations did. */
export interface ClaimResult {
  /** Runs to execute now; their leases are held by the claiming replica. */
  started: StartedRun[];
  /** Ticks not run because the previous run of the integration still holds its lease. */
  skippedOverlap: Array<{ integration: IntegrationRef; scheduledFor: Date }>;
  /** Missed ticks dropped by the `skip` misfire policy (the first missed fire time of each). */
  skippedMisfire: Array<{ integration: IntegrationRef; scheduledFor: Date }>;
  /** Runs whose replica stopped renewing the lease; now marked `abandoned`. */
  abandoned: Array<{ integration: IntegrationRef; runId: string; replicaId: string | null }>;
}

/** How a run ended, as the run service decided. */
export type RunCompletion = (
  | {
      outcome: 'succeeded';
      status: IntegrationStatus;
      httpStatus: number;
      watermarkRegressed: boolean;
      /** The zone `status.maxSyncDateTime` was read in because it had no offset; null or absent when it had one. */
      zoneAssumed?: string | null;
    }
  | {
      outcome: 'failed' | 'skipped_breaker_open' | 'interrupted';
      errorCode: string;
      error: string;
      httpStatus: number | null;
    }
) & { attempts: AttemptRecord[]; outcomeUnknownRetried: boolean };

export interface Page<T> {
  items: T[];
  /** Whether more items follow the last one. */
  hasMore: boolean;
}

/** Raised by `startManualRun` when a run of the integration already holds the lease. */
export class RunInProgressError extends Error {
  constructor(
    readonly integration: IntegrationRef,
    readonly runId: string | null,
  ) {
    super(
      `a run of ${integration.sourceSystemId}/${integration.integrationName} is already in progress (run ${runId ?? 'unknown'})`,
    );
    this.name = 'RunInProgressError';
  }
}

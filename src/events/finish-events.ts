import type { IntegrationRef, RunCompletion, StartedRun, Watermark } from '../persistence/types';
import { compareWatermarks } from '../runs/watermark';
import { EVENT_TYPES, subjectOf, type NewEvent } from './event-types';

/** What the repositories need to know to write events with the changes. */
export interface EventSettings {
  /** CloudEvents `source`. */
  source: string;
  /** `tidemark.run.failed` is emitted at 1 and at every multiple of this many consecutive failures. */
  failureRepeat: number;
}

export const DEFAULT_EVENT_SETTINGS: EventSettings = { source: 'urn:tidemark', failureRepeat: 10 };

/**
 * The events a batch of run ends may emit, before the database has said how many failures in a row each failed
 * integration now has: a moved watermark gives `advanced` or `regressed` (a success that keeps it equal gives none),
 * and every `failed` run gives a `run.failed` candidate that the writing statement keeps only when
 * {@link reportsFailure} holds for its new consecutive-failure count (and then adds `consecutiveFailures` to data).
 * Runs that were skipped or interrupted emit nothing. The statement also drops the events of runs it did not apply.
 */
export function finishEventCandidates(
  items: ReadonlyArray<{ started: StartedRun; completion: RunCompletion }>,
  settings: EventSettings,
): NewEvent[] {
  const events: NewEvent[] = [];
  for (const { started, completion } of items) {
    const base = {
      source: settings.source,
      subject: subjectOf(started.integration),
      integrationId: started.integration.id,
      runId: started.runId,
    };
    if (completion.outcome === 'succeeded') {
      const after = watermarkOf(completion.status);
      const before = started.watermarkBefore;
      const order = compareWatermarks(after, before);
      if (order === 0) continue;
      const type = order > 0 ? EVENT_TYPES.watermarkAdvanced : EVENT_TYPES.watermarkRegressed;
      events.push({ ...base, type, data: { runId: started.runId, trigger: started.trigger, before, after } });
    } else if (completion.outcome === 'failed') {
      events.push({
        ...base,
        type: EVENT_TYPES.runFailed,
        data: {
          runId: started.runId,
          trigger: started.trigger,
          errorCode: completion.errorCode,
          error: completion.error,
          httpStatus: completion.httpStatus,
        },
      });
    }
  }
  return events;
}

/** A failure is reported the first time after a success (1 in a row) and again at every multiple of `repeat`. */
export function reportsFailure(consecutiveFailures: number, repeat: number): boolean {
  return consecutiveFailures === 1 || (consecutiveFailures > 0 && consecutiveFailures % repeat === 0);
}

/**
 * The events of one run end whose consecutive-failure count is known (`null` when the run did not fail): the
 * candidates, with `run.failed` kept only when {@link reportsFailure} holds.
 */
export function finishEvents(
  started: StartedRun,
  completion: RunCompletion,
  consecutiveFailures: number | null,
  settings: EventSettings,
): NewEvent[] {
  return finishEventCandidates([{ started, completion }], settings).flatMap((event) => {
    if (event.type !== EVENT_TYPES.runFailed) return [event];
    if (consecutiveFailures === null || !reportsFailure(consecutiveFailures, settings.failureRepeat)) return [];
    return [{ ...event, data: { ...event.data, consecutiveFailures } }];
  });
}

/** The event of an operator pausing or resuming an integration. */
export function pauseEvent(
  integration: IntegrationRef,
  paused: boolean,
  nextFireAt: Date | null,
  settings: EventSettings,
): NewEvent {
  return {
    type: paused ? EVENT_TYPES.integrationPaused : EVENT_TYPES.integrationResumed,
    source: settings.source,
    subject: subjectOf(integration),
    integrationId: integration.id,
    runId: null,
    data: paused ? { paused: true } : { paused: false, nextFireAt: nextFireAt?.toISOString() ?? null },
  };
}

function watermarkOf(status: {
  maxSyncDateTime: string | null;
  maxSyncDateTimeUtc: string | null;
  maxSyncDateMaxPkId: string | null;
}): Watermark {
  return {
    maxSyncDateTime: status.maxSyncDateTime,
    maxSyncDateTimeUtc: status.maxSyncDateTimeUtc,
    maxSyncDateMaxPkId: status.maxSyncDateMaxPkId,
  };
}

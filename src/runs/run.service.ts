import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config';
import { runLogContext } from '../observability/logging';
import { RunTelemetry } from '../observability/run-telemetry';
import { ClaimsRepository } from '../persistence/claims.repository';
import { RunsRepository } from '../persistence/runs.repository';
import { ExponentialBackoff, handleWhen, retry } from 'cockatiel';
import type {
  AttemptRecord,
  IntegrationRef,
  RunCompletion,
  RunRecord,
  StartedRun,
  Watermark,
} from '../persistence/types';
import type { IntegrationStatus } from '../upstream/integration-status';
import { retryAfterFirstFailure } from '../common/retry-after-first-failure';
import { FinishBatcher, type FinishResult } from './finish-batcher';
import { isRegression } from './watermark';
import { UpstreamClient } from '../upstream/upstream.client';
import { UpstreamError } from '../upstream/errors';
import { CallStop } from '../upstream/call-stop';
import { assumedTimeZone } from '../upstream/dotnet-date';

/**
 * The explicit result of executing one run.
 * - `succeeded` / `failed`: the run row and the integration were updated together.
 * - `lease_lost`: another replica declared the run abandoned before it finished, so nothing was written; the
 *   upstream answer (if any) is logged in full instead.
 */
export type RunResult =
  | { kind: 'succeeded'; run: RunRecord }
  | { kind: 'failed'; run: RunRecord }
  | { kind: 'interrupted'; run: RunRecord | null }
  | { kind: 'lease_lost'; runId: string; completion: RunCompletion };

/**
 * Scheduled runs claimed ahead of a free slot, as a share of MAX_CONCURRENT_RUNS. A claim is a transaction of a
 * few round trips; without runs waiting, a slot that frees would sit idle until the next claim commits. Runs claimed
 * ahead start the moment a slot frees; their leases are held and renewed like those of runs calling.
 */
export const CLAIM_AHEAD_SHARE = 0.5;

interface InFlightRun {
  started: StartedRun;
  done: Promise<RunResult>;
  /** The run's end is written (its lease released): nothing left to renew. */
  recorded?: boolean;
}

/**
 * Executes runs: the *what* of a tick. It calls IntegrationStart once, turns every outcome into a recorded run
 * (an exception becomes a failed run, never a crash), keeps the lease of each in-flight run renewed, and on
 * shutdown lets runs finish within the grace period before marking the rest `interrupted`.
 */
@Injectable()
export class RunService implements OnApplicationShutdown {
  private readonly logger = new Logger(RunService.name);
  private readonly inFlight = new Map<string, InFlightRun>();
  /** Runs whose upstream call is on its way (the rest of `inFlight` wait for a slot or for their end to be recorded). */
  private calling = 0;
  /**
   * Scheduled runs waiting for one of `max` slots, oldest first; each is woken with `true` (a slot handed over) or
   * `false` (aborted).
   */
  private readonly waitingForSlot: Array<{ max: number; wake: (gotSlot: boolean) => void }> = [];
  /** The replica is shutting down: a run that would have to wait for a slot makes no call. */
  private draining = false;
  /**
   * Aborted when the shutdown grace period ends, stopping every upstream call still on its way. One for all runs,
   * so that a run adds no AbortController or listener of its own (an AbortSignal shared by many calls searches its
   * list of listeners on every add and remove).
   */
  private readonly shutdown = new CallStop();
  private readonly leaseTimer: NodeJS.Timeout;
  /** Runs that end together are finished by one transaction (group commit). */
  private readonly finishes: FinishBatcher;

  constructor(
    private readonly claims: ClaimsRepository,
    runsRepository: RunsRepository,
    private readonly upstream: UpstreamClient,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly telemetry: RunTelemetry,
  ) {
    this.finishes = new FinishBatcher(runsRepository, isTransientDatabaseError);
    // Renew at a third of the lease so that two missed renewals still leave the lease held.
    this.leaseTimer = setInterval(
      () => void this.renewLeases(),
      Math.max(250, Math.floor(config.schedule.leaseMs / 3)),
    );
    this.leaseTimer.unref();
  }

  /** Number of runs this replica executes right now (calling the upstream or recording their end). */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /**
   * How many more scheduled runs may be claimed now, with `maxConcurrentRuns` (MAX_CONCURRENT_RUNS) slots. A slot
   * is an upstream call: it frees when the answer is in, while the run's end waits to be recorded in the next group
   * commit, so a slow commit never leaves slots idle: a sweep is bound by the upstream's latency, not the
   * database's. Up to {@link CLAIM_AHEAD_SHARE} × the slots more are claimed ahead and wait for a slot, so that a
   * freed slot never waits for a claim. Runs waiting to be recorded are bounded by as many again as the slots, so a
   * slow or unreachable database stops claims.
   */
  claimCapacity(maxConcurrentRuns: number): number {
    const ahead = Math.ceil(maxConcurrentRuns * CLAIM_AHEAD_SHARE);
    return Math.max(
      0,
      Math.min(
        maxConcurrentRuns + ahead - this.calling - this.waitingForSlot.length,
        2 * maxConcurrentRuns + ahead - this.inFlight.size,
      ),
    );
  }

  /** Whether this replica is executing a run of the integration (by database id). */
  isRunning(integrationId: string): boolean {
    for (const run of this.inFlight.values()) if (run.started.integration.id === integrationId) return true;
    return false;
  }

  /**
   * Executes a run whose lease this replica holds (from a claim or a manual start) and records its end.
   * Never rejects: every failure, thrown or returned, becomes a recorded outcome.
   * @param slots when given (scheduled runs), the run's upstream call waits for one of `slots.max` slots, and
   *   `slots.onFree` is called when the call ends; without it (manual runs) the call starts at once
   */
  execute(started: StartedRun, slots?: { max: number; onFree: () => void }): Promise<RunResult> {
    // Every line logged during the run carries runId, sourceSystemId and integrationName; its outcome is counted.
    const done = this.telemetry
      .track(started, () => this.executeTracked(started, this.shutdown, slots))
      .finally(() => this.inFlight.delete(started.runId));
    this.inFlight.set(started.runId, { started, done });
    return done;
  }

  /**
   * Starts a manual run of `integration` now and waits for it to finish.
   * @param requestedBy the actor, audited in the statement that records the run's end
   * @throws RunInProgressError (from the repository) when a run of the integration holds the lease
   */
  async runNow(integration: IntegrationRef, requestedBy?: string): Promise<RunResult> {
    const { replicaId, schedule } = this.config;
    const started = await this.claims.startManualRun(integration, replicaId, schedule.leaseMs, requestedBy);
    return this.execute(started);
  }

  /**
   * The start of a drain: runs claimed ahead that wait for a call slot would start their calls during the grace
   * period, only to be cut off at its end, so each is woken now and recorded `interrupted` without a call, and no run
   * waits for a slot from now on. Idempotent; {@link drain} calls it too.
   */
  stopWaiting(): void {
    this.draining = true;
    for (const waiter of this.waitingForSlot.splice(0)) waiter.wake(false);
  }

  /**
   * Stops runs waiting for a call slot (see {@link stopWaiting}); waits up to `graceMs` for the other in-flight runs;
   * then aborts the calls still on their way, records those runs `interrupted` and releases their leases, so no run
   * stays `running` after this replica exits. A run started after this makes no call. Never rejects.
   * @returns of the runs in flight when it began, those recorded `interrupted` (waiting or cut off) and the others
   */
  async drain(graceMs: number): Promise<{ finished: number; interrupted: number }> {
    this.stopWaiting();
    const pending = [...this.inFlight.values()];
    if (pending.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<'grace_over'>(
        (resolve) => (timer = setTimeout(() => resolve('grace_over'), graceMs)),
      );
      await Promise.race([Promise.allSettled(pending.map((run) => run.done)), graceOver]);
      clearTimeout(timer);
    }
    try {
      this.shutdown.abort(new Error('shutdown'));
    } catch (error) {
      // Every call's listener ran (CallStop calls them all); the runs are still recorded below.
      this.logger.error(`stopping the upstream calls at shutdown: ${(error as Error).message}`);
    }
    // Runs started during the grace period (manual ones) are waited for too, so that each is recorded before exit.
    await Promise.allSettled([...this.inFlight.values()].map((run) => run.done));
    const results = await Promise.all(pending.map((run) => run.done));
    const interrupted = results.filter((result) => result.kind === 'interrupted').length;
    return { finished: pending.length - interrupted, interrupted };
  }

  /** After the drain (leases must be renewed while runs finish during shutdown). */
  onApplicationShutdown(): void {
    clearInterval(this.leaseTimer);
  }

  private async executeTracked(
    started: StartedRun,
    signal: CallStop,
    slots?: { max: number; onFree: () => void },
  ): Promise<RunResult> {
    let completion: RunCompletion;
    const shutDownBeforeStart = signal.aborted;
    if (await this.takeSlot(signal, slots?.max ?? Number.POSITIVE_INFINITY)) {
      try {
        completion = await this.callUpstream(started, signal);
      } finally {
        this.releaseSlot();
        // Outside this run's log context: what the freed slot starts (a claim) is not part of this run.
        if (slots) runLogContext.exit(slots.onFree);
      }
    } else {
      completion = interruptedWithoutCall(shutDownBeforeStart);
    }
    this.warnIfWatermarkRegressed(started, completion);
    let finish: FinishResult;
    try {
      finish = await this.finishWithRetry(started, completion);
      const run = this.inFlight.get(started.runId);
      if (run) run.recorded = true;
    } catch (error) {
      // The run row stays `running` until its lease expires and another tick marks it abandoned; the answer is
      // logged in full so that nothing the upstream said is silently lost.
      this.logger.error(
        `run ${started.runId} of ${describe(started.integration)} could not be recorded within ${this.config.dbWriteRetryMs} ms ` +
          `(${(error as Error).message}). Upstream answer: ${JSON.stringify(completion)}`,
      );
      return { kind: 'lease_lost', runId: started.runId, completion };
    }
    return this.resultOfFinish(started, completion, finish);
  }

  /** A watermark the upstream moved backwards is stored all the same (the upstream is the truth), and warned of. */
  private warnIfWatermarkRegressed(started: StartedRun, completion: RunCompletion): void {
    if (completion.outcome === 'succeeded' && completion.watermarkRegressed) {
      this.logger.warn(
        `run ${started.runId} of ${describe(started.integration)}: the upstream moved the watermark backwards from ` +
          `${formatWatermark(started.watermarkBefore)} to ${formatWatermark(watermarkOf(completion.status))}; stored as the upstream's truth`,
      );
    }
  }

  /** The run's result once its end was written, or `lease_lost` when the write found the lease gone. */
  private resultOfFinish(started: StartedRun, completion: RunCompletion, finish: FinishResult): RunResult {
    const { applied, finished } = finish;
    if (!applied || !finished) {
      this.logger.error(
        `run ${started.runId} of ${describe(started.integration)} lost its lease before finishing; nothing was written. ` +
          `Upstream answer: ${JSON.stringify(completion)}`,
      );
      return { kind: 'lease_lost', runId: started.runId, completion };
    }
    if (completion.outcome === 'succeeded') {
      this.logSucceeded(started, completion, finish.zoneNewlyAssumed);
      return { kind: 'succeeded', run: finished };
    }
    if (completion.outcome === 'interrupted') return { kind: 'interrupted', run: finished };
    this.logger.warn(
      `run ${started.runId} of ${describe(started.integration)} ${completion.outcome}: ${completion.error}`,
    );
    return { kind: 'failed', run: finished };
  }

  /** Logs the success, after the warning that the watermark's date had no offset when the database says it is new. */
  private logSucceeded(
    started: StartedRun,
    completion: Extract<RunCompletion, { outcome: 'succeeded' }>,
    zoneNewlyAssumed: boolean | undefined,
  ): void {
    const { integration } = started;
    if (zoneNewlyAssumed) {
      // Once per integration (decided by the database under its row lock), so an alert is not flooded.
      this.logger.warn(
        `${describe(integration)}: the upstream's MaxSyncDateTime ${JSON.stringify(completion.status.maxSyncDateTime)} ` +
          `has no UTC offset; it was read in UPSTREAM_TIMEZONE ${completion.zoneAssumed ?? ''}. If that is not the ` +
          `upstream's zone, the stored watermark is off by the difference (see README, Watermarks)`,
      );
    }
    this.logger.log(
      `run ${started.runId} of ${describe(integration)} succeeded: watermark ${formatWatermark(watermarkOf(completion.status))}`,
    );
  }

  /**
   * Takes a call slot, waiting (oldest first) while all `max` are taken. Resolves `false`, holding no slot, when the
   * shutdown signal has aborted or the replica is draining: drain() wakes every waiting run with `false` before the
   * signal aborts, and no run starts waiting after that, so a waiting run needs no listener of its own.
   */
  private takeSlot(signal: CallStop, max: number): Promise<boolean> | boolean {
    if (signal.aborted) return false;
    if (this.calling < max) {
      this.calling += 1;
      return true;
    }
    if (this.draining) return false;
    return new Promise<boolean>((wake) => this.waitingForSlot.push({ max, wake }));
  }

  /**
   * Frees a call slot, handing it to the oldest waiting run when that run's `max` allows one more call: manual runs
   * take slots beyond `max`, so the count may be above it, and a manual run's end must not let a scheduled call in.
   */
  private releaseSlot(): void {
    const next = this.waitingForSlot[0];
    if (next !== undefined && this.calling <= next.max) {
      this.waitingForSlot.shift();
      next.wake(true);
    } else {
      this.calling -= 1;
    }
  }

  /**
   * The final write, retried with capped exponential backoff while the database is unreachable, for up to
   * DB_WRITE_RETRY_MS; the run keeps renewing its lease meanwhile (renewals fail too while the database is down,
   * so a long outage ends with the run abandoned rather than half-written).
   */
  private async finishWithRetry(started: StartedRun, completion: RunCompletion) {
    const deadline = Date.now() + this.config.dbWriteRetryMs;
    return retryAfterFirstFailure(
      () => this.finishes.finish(started, completion),
      () => {
        const policy = retry(
          handleWhen((error) => isTransientDatabaseError(error) && Date.now() < deadline),
          {
            maxAttempts: Number.MAX_SAFE_INTEGER,
            backoff: new ExponentialBackoff({ initialDelay: 200, maxDelay: 5_000 }),
          },
        );
        policy.onRetry(({ delay }) =>
          this.logger.warn(
            `run ${started.runId}: the final write hit a transient database error; retrying in ${Math.round(delay)} ms`,
          ),
        );
        return policy;
      },
    );
  }

  private async callUpstream(started: StartedRun, signal: CallStop): Promise<RunCompletion> {
    const key = {
      sourceSystemId: started.integration.sourceSystemId,
      integrationName: started.integration.integrationName,
    };
    try {
      const result = await this.upstream.integrationStart(key, { signal });
      return {
        outcome: 'succeeded',
        status: result.status,
        httpStatus: result.httpStatus,
        watermarkRegressed: isRegression(started.watermarkBefore, watermarkOf(result.status)),
        zoneAssumed: assumedTimeZone(result.status.maxSyncDateTime, this.config.upstream.timeZone),
        attempts: result.attempts,
        outcomeUnknownRetried: result.outcomeUnknownRetried,
      };
    } catch (error) {
      const attempts: AttemptRecord[] = error instanceof UpstreamError ? (error.attempts ?? []) : [];
      const outcomeUnknownRetried = error instanceof UpstreamError ? (error.outcomeUnknownRetried ?? false) : false;
      if (signal.aborted) {
        return {
          outcome: 'interrupted',
          errorCode: 'shutdown',
          error: `the replica shut down before the upstream answered (grace ${this.config.schedule.shutdownGraceMs} ms)`,
          httpStatus: null,
          attempts,
          outcomeUnknownRetried,
        };
      }
      if (error instanceof UpstreamError) {
        return {
          outcome: error.code === 'breaker_open' ? 'skipped_breaker_open' : 'failed',
          errorCode: error.code,
          error: error.message,
          httpStatus: error.httpStatus ?? null,
          attempts,
          outcomeUnknownRetried,
        };
      }
      return {
        outcome: 'failed',
        errorCode: 'internal',
        error: `unexpected error: ${error instanceof Error ? error.message : String(error)}`,
        httpStatus: null,
        attempts,
        outcomeUnknownRetried,
      };
    }
  }

  private async renewLeases(): Promise<void> {
    if (this.inFlight.size === 0) return;
    try {
      const runIds = [...this.inFlight.values()].filter((run) => !run.recorded).map((run) => run.started.runId);
      const lost = await this.claims.renewLeases(this.config.replicaId, runIds, this.config.schedule.leaseMs);
      for (const runId of lost) {
        // Recorded while the renewal was on its way: its lease was released, not lost.
        const current = this.inFlight.get(runId);
        if (!current || current.recorded) continue;
        const integration = this.inFlight.get(runId)?.started.integration;
        this.logger.warn({
          msg: `run ${runId} no longer holds its lease; its result will not be written`,
          runId,
          sourceSystemId: integration?.sourceSystemId,
          integrationName: integration?.integrationName,
        });
      }
    } catch (error) {
      this.logger.warn(`lease renewal failed: ${(error as Error).message}`);
    }
  }
}

/** The end of a run that got no call slot: the replica was shutting down, or had shut down, before it could call. */
function interruptedWithoutCall(shutDownBeforeStart: boolean): RunCompletion {
  return {
    outcome: 'interrupted',
    errorCode: 'shutdown',
    error: shutDownBeforeStart
      ? 'the replica had shut down before the run started; no call was made'
      : 'the replica shut down while the run waited for a call slot; no call was made',
    httpStatus: null,
    attempts: [],
    outcomeUnknownRetried: false,
  };
}

function watermarkOf(status: IntegrationStatus): Watermark {
  return {
    maxSyncDateTime: status.maxSyncDateTime,
    maxSyncDateTimeUtc: status.maxSyncDateTimeUtc,
    maxSyncDateMaxPkId: status.maxSyncDateMaxPkId,
  };
}

function formatWatermark(watermark: Watermark | null): string {
  return watermark ? `${watermark.maxSyncDateTime ?? 'null'} / ${watermark.maxSyncDateMaxPkId ?? 'null'}` : 'none';
}

/**
 * Errors worth retrying a write for: the database is down, restarting or unreachable (connection refused or reset,
 * admin shutdown 57P01, cannot connect now 57P03, pool checkout timeout), or it rolled the transaction back to break
 * a deadlock (40P01) or a serialization conflict (40001). Each leaves nothing written, so the whole write can be
 * repeated. Not a constraint or syntax error.
 */
export function isTransientDatabaseError(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown; driverError?: { code?: unknown } };
  const code =
    typeof e?.code === 'string' ? e.code : typeof e?.driverError?.code === 'string' ? e.driverError.code : '';
  if (['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN'].includes(code)) return true;
  if (code.startsWith('08') || ['57P01', '57P02', '57P03', '40P01', '40001'].includes(code)) return true;
  const message = typeof e?.message === 'string' ? e.message : '';
  return /timeout exceeded when trying to connect|Connection terminated|connection is closed|Client has encountered a connection error/i.test(
    message,
  );
}

function describe(integration: IntegrationRef): string {
  return `${integration.sourceSystemId}/${JSON.stringify(integration.integrationName)}`;
}

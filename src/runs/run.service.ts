import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config';
import { StateRepository } from '../persistence/state.repository';
import type { IntegrationRef, RunCompletion, RunRecord, StartedRun } from '../persistence/types';
import { UpstreamClient } from '../upstream/upstream.client';
import { UpstreamError } from '../upstream/errors';

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

interface InFlightRun {
  started: StartedRun;
  abort: AbortController;
  done: Promise<RunResult>;
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
  private readonly leaseTimer: NodeJS.Timeout;

  constructor(
    private readonly repository: StateRepository,
    private readonly upstream: UpstreamClient,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    // Renew at a third of the lease so that two missed renewals still leave the lease held.
    this.leaseTimer = setInterval(() => void this.renewLeases(), Math.max(250, Math.floor(config.schedule.leaseMs / 3)));
    this.leaseTimer.unref();
  }

  /** Number of runs this replica executes right now. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Whether this replica is executing a run of the integration (by database id). */
  isRunning(integrationId: string): boolean {
    for (const run of this.inFlight.values()) if (run.started.integration.id === integrationId) return true;
    return false;
  }

  /**
   * Executes a run whose lease this replica holds (from a claim or a manual start) and records its end.
   * Never rejects: every failure, thrown or returned, becomes a recorded outcome.
   */
  execute(started: StartedRun): Promise<RunResult> {
    const abort = new AbortController();
    const done = this.executeTracked(started, abort.signal).finally(() => this.inFlight.delete(started.runId));
    this.inFlight.set(started.runId, { started, abort, done });
    return done;
  }

  /**
   * Starts a manual run of `integration` now and waits for it to finish.
   * @throws RunInProgressError (from the repository) when a run of the integration holds the lease
   */
  async runNow(integration: IntegrationRef): Promise<RunResult> {
    const started = await this.repository.startManualRun(integration, this.config.replicaId, this.config.schedule.leaseMs);
    return this.execute(started);
  }

  /**
   * Waits up to `graceMs` for in-flight runs; then aborts the rest, records them `interrupted` and releases their
   * leases, so no run stays `running` after this replica exits.
   */
  async drain(graceMs: number): Promise<{ finished: number; interrupted: number }> {
    const pending = [...this.inFlight.values()];
    if (pending.length === 0) return { finished: 0, interrupted: 0 };
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'grace_over'>((resolve) => (timer = setTimeout(() => resolve('grace_over'), graceMs)));
    await Promise.race([Promise.allSettled(pending.map((run) => run.done)), graceOver]);
    clearTimeout(timer);
    const left = [...this.inFlight.values()];
    for (const run of left) run.abort.abort(new Error('shutdown'));
    await Promise.allSettled(left.map((run) => run.done));
    return { finished: pending.length - left.length, interrupted: left.length };
  }

  /** After the drain (leases must be renewed while runs finish during shutdown). */
  onApplicationShutdown(): void {
    clearInterval(this.leaseTimer);
  }

  private async executeTracked(started: StartedRun, signal: AbortSignal): Promise<RunResult> {
    const { integration } = started;
    const completion = await this.callUpstream(started, signal);
    try {
      const { applied, finished } = await this.repository.finishRun(started, completion);
      if (!applied || !finished) {
        this.logger.error(
          `run ${started.runId} of ${describe(integration)} lost its lease before finishing; nothing was written. ` +
            `Upstream answer: ${JSON.stringify(completion)}`,
        );
        return { kind: 'lease_lost', runId: started.runId, completion };
      }
      if (completion.outcome === 'succeeded') {
        this.logger.log(
          `run ${started.runId} of ${describe(integration)} succeeded: watermark ${completion.status.maxSyncDateTime ?? 'null'} / ${completion.status.maxSyncDateMaxPkId ?? 'null'}`,
        );
        return { kind: 'succeeded', run: finished };
      }
      if (completion.outcome === 'interrupted') return { kind: 'interrupted', run: finished };
      this.logger.warn(`run ${started.runId} of ${describe(integration)} failed: ${completion.error}`);
      return { kind: 'failed', run: finished };
    } catch (error) {
      // The database write failed: the run row stays `running` until its lease expires and it is marked abandoned.
      this.logger.error(
        `run ${started.runId} of ${describe(integration)} could not be recorded (${(error as Error).message}). ` +
          `Upstream answer: ${JSON.stringify(completion)}`,
      );
      return { kind: 'lease_lost', runId: started.runId, completion };
    }
  }

  private async callUpstream(started: StartedRun, signal: AbortSignal): Promise<RunCompletion> {
    const key = { sourceSystemId: started.integration.sourceSystemId, integrationName: started.integration.integrationName };
    try {
      const result = await this.upstream.integrationStart(key, { signal });
      return { outcome: 'succeeded', status: result.status, httpStatus: result.httpStatus };
    } catch (error) {
      if (signal.aborted) {
        return {
          outcome: 'interrupted',
          errorCode: 'shutdown',
          error: `the replica shut down before the upstream answered (grace ${this.config.schedule.shutdownGraceMs} ms)`,
          httpStatus: null,
        };
      }
      if (error instanceof UpstreamError) {
        return { outcome: 'failed', errorCode: error.code, error: error.message, httpStatus: error.httpStatus ?? null };
      }
      return {
        outcome: 'failed',
        errorCode: 'internal',
        error: `unexpected error: ${error instanceof Error ? error.message : String(error)}`,
        httpStatus: null,
      };
    }
  }

  private async renewLeases(): Promise<void> {
    if (this.inFlight.size === 0) return;
    try {
      const lost = await this.repository.renewLeases(this.config.replicaId, [...this.inFlight.keys()], this.config.schedule.leaseMs);
      for (const runId of lost) this.logger.warn(`run ${runId} no longer holds its lease; its result will not be written`);
    } catch (error) {
      this.logger.warn(`lease renewal failed: ${(error as Error).message}`);
    }
  }
}

function describe(integration: IntegrationRef): string {
  return `${integration.sourceSystemId}/${JSON.stringify(integration.integrationName)}`;
}

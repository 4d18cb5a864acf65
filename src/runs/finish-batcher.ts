import type { FinishResult, RunsRepository } from '../persistence/runs.repository';
import type { RunCompletion, StartedRun } from '../persistence/types';

export type { FinishResult };

interface Pending {
  /** performance.now() when the run's end was queued. */
  queuedAt: number;
  started: StartedRun;
  completion: RunCompletion;
  resolve: (result: FinishResult) => void;
  reject: (error: unknown) => void;
}

/** Most runs finished by one statement. */
export const MAX_FINISH_BATCH = 256;
/**
 * Most finish statements on their way at once. With one at a time every run waits for the batch before it, and a
 * sweep becomes bound by the database's latency; a few in parallel keep the batches large and the wait short,
 * within the connection pool.
 */
export const MAX_CONCURRENT_FINISHES = 2;
/**
 * How long a run's end may wait for others to join its batch, ms, unless {@link FINISH_BATCH_TARGET} have queued.
 * Each group commit costs the service and Postgres a transaction whatever its size, and calls that end a few at a
 * time would otherwise make small batches.
 */
export const FINISH_GATHER_MS = 10;
/** Queued run ends that start a batch at once, without waiting out FINISH_GATHER_MS. */
export const FINISH_BATCH_TARGET = 64;

/**
 * Group commit of run finishes. Runs that end within `gatherMs` of one another (until `batchTarget` have queued), or
 * while writes are on their way, are finished together by one `finishRuns` statement: each run's row and its
 * integration's state still commit together, and the batch shares one commit. Up to `maxConcurrent` batches are
 * written at once; an integration is never in two of them, so two ends of one integration commit in the order they
 * were given. If a batch fails for a reason other than the database being unreachable, each of its runs is written
 * alone (a batch of one, `finishRun`), so that one bad run can't lose the others; when the database is unreachable,
 * every run of the batch gets the error and its own retry policy retries it.
 */
export class FinishBatcher {
  private queue: Pending[] = [];
  private writers = 0;
  private scheduled = false;
  private gatherTimer: NodeJS.Timeout | null = null;
  /** Integrations with a run in a batch being written. */
  private readonly writing = new Set<string>();

  constructor(
    private readonly repository: Pick<RunsRepository, 'finishRun' | 'finishRuns'>,
    private readonly isTransient: (error: unknown) => boolean,
    private readonly maxBatch = MAX_FINISH_BATCH,
    private readonly maxConcurrent = MAX_CONCURRENT_FINISHES,
    private readonly gatherMs = FINISH_GATHER_MS,
    private readonly batchTarget = FINISH_BATCH_TARGET,
  ) {}

  /** Finishes one run, in the next batch; resolves or rejects as `finishRun` would. */
  finish(started: StartedRun, completion: RunCompletion): Promise<FinishResult> {
    return new Promise<FinishResult>((resolve, reject) => {
      this.queue.push({ queuedAt: performance.now(), started, completion, resolve, reject });
      this.schedule();
    });
  }

  /**
   * Starts writers once the oldest queued end has waited `gatherMs` or `batchTarget` ends have queued; until then,
   * a timer. Runs that end in the same turn of the event loop always join one batch (the start is a setImmediate).
   */
  private schedule(): void {
    if (this.scheduled || this.writers >= this.maxConcurrent || this.queue.length === 0) return;
    const waitMs = this.gatherMs - (performance.now() - this.queue[0].queuedAt);
    if (waitMs > 0 && this.queue.length < this.batchTarget) {
      this.gatherTimer ??= setTimeout(() => {
        this.gatherTimer = null;
        this.schedule();
      }, waitMs);
      return;
    }
    if (this.gatherTimer !== null) {
      clearTimeout(this.gatherTimer);
      this.gatherTimer = null;
    }
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.startWriters();
    });
  }

  private startWriters(): void {
    while (this.writers < this.maxConcurrent && this.queue.length > 0) {
      const batch = this.takeBatch();
      if (batch.length === 0) return;
      this.writers += 1;
      void this.write(batch).finally(() => {
        for (const pending of batch) this.writing.delete(pending.started.integration.id);
        this.writers -= 1;
        this.schedule();
      });
    }
  }

  /**
   * The oldest runs, at most `maxBatch`, at most one per integration and none of an integration being written (a
   * later one waits for a later batch).
   */
  private takeBatch(): Pending[] {
    const batch: Pending[] = [];
    const rest: Pending[] = [];
    const integrations = new Set<string>();
    for (const pending of this.queue) {
      const id = pending.started.integration.id;
      if (batch.length < this.maxBatch && !integrations.has(id) && !this.writing.has(id)) {
        integrations.add(id);
        batch.push(pending);
      } else {
        rest.push(pending);
      }
    }
    this.queue = rest;
    for (const id of integrations) this.writing.add(id);
    return batch;
  }

  private async write(batch: Pending[]): Promise<void> {
    let results: FinishResult[];
    try {
      results = await this.repository.finishRuns(batch.map(({ started, completion }) => ({ started, completion })));
    } catch (error) {
      if (this.isTransient(error)) {
        for (const pending of batch) pending.reject(error);
        return;
      }
      await Promise.all(
        batch.map((pending) =>
          this.repository.finishRun(pending.started, pending.completion).then(pending.resolve, pending.reject),
        ),
      );
      return;
    }
    batch.forEach((pending, index) => pending.resolve(results[index]));
  }
}

import type { StateRepository } from '../persistence/state.repository';
import type { RunCompletion, RunRecord, StartedRun } from '../persistence/types';

export type FinishResult = { applied: boolean; finished: RunRecord | null };

interface Pending {
  started: StartedRun;
  completion: RunCompletion;
  resolve(result: FinishResult): void;
  reject(error: unknown): void;
}

/** Most runs finished by one transaction. */
export const MAX_FINISH_BATCH = 256;

/**
 * Group commit of run finishes. Runs that end while a write is on its way, or in the same turn of the event loop,
 * are finished together by one `finishRuns` transaction: each run's row and its integration's state still commit
 * together, and the batch shares one commit. If the batch fails for a reason other than the database being
 * unreachable, each of its runs is written alone with `finishRun`, so that one bad run can't lose the others; when
 * the database is unreachable, every run of the batch gets the error and its own retry policy retries it.
 */
export class FinishBatcher {
  private queue: Pending[] = [];
  private flushing = false;

  constructor(
    private readonly repository: Pick<StateRepository, 'finishRun' | 'finishRuns'>,
    private readonly isTransient: (error: unknown) => boolean,
    private readonly maxBatch = MAX_FINISH_BATCH,
  ) {}

  /** Finishes one run, in the next batch; resolves or rejects as `finishRun` would. */
  finish(started: StartedRun, completion: RunCompletion): Promise<FinishResult> {
    return new Promise<FinishResult>((resolve, reject) => {
      this.queue.push({ started, completion, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    try {
      while (this.queue.length > 0) await this.write(this.takeBatch());
    } finally {
      this.flushing = false;
    }
  }

  /** The oldest runs, at most `maxBatch`, at most one per integration (a later one waits for the next batch). */
  private takeBatch(): Pending[] {
    const batch: Pending[] = [];
    const rest: Pending[] = [];
    const integrations = new Set<string>();
    for (const pending of this.queue) {
      const id = pending.started.integration.id;
      if (batch.length < this.maxBatch && !integrations.has(id)) {
        integrations.add(id);
        batch.push(pending);
      } else {
        rest.push(pending);
      }
    }
    this.queue = rest;
    return batch;
  }

  private async write(batch: Pending[]): Promise<void> {
    if (batch.length === 1) {
      const [only] = batch;
      await this.repository.finishRun(only.started, only.completion).then(only.resolve, only.reject);
      return;
    }
    let results: FinishResult[];
    try {
      results = await this.repository.finishRuns(batch.map(({ started, completion }) => ({ started, completion })));
    } catch (error) {
      if (this.isTransient(error)) {
        for (const pending of batch) pending.reject(error);
        return;
      }
      await Promise.all(batch.map((pending) => this.repository.finishRun(pending.started, pending.completion).then(pending.resolve, pending.reject)));
      return;
    }
    batch.forEach((pending, index) => pending.resolve(results[index]));
  }
}

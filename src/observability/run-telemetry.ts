import { Injectable } from '@nestjs/common';
import type { StartedRun } from '../persistence/types';
import { runLogContext } from './logging';
import { MetricsService } from './metrics.service';

/** The part of a run's result that telemetry reads (RunService's RunResult has this shape). */
export interface RunResultLike {
  kind: string;
  run?: { outcome: string } | null;
}

/**
 * What RunService reports about each run, behind one call: the run executes inside a logging context, so every
 * line logged while it goes on (RunService's, the upstream client's, the repository's) carries `runId`,
 * `sourceSystemId` and `integrationName`; and when it settles, `tidemark_runs_total` and
 * `tidemark_run_duration_seconds` are recorded.
 */
@Injectable()
export class RunTelemetry {
  constructor(private readonly metrics: MetricsService) {}

  /**
   * Runs `work` (the execution of `started`) in the run's logging context and records its outcome. A manual run
   * started from a request keeps the request's `requestId` too. `work` must not reject (RunService's never does);
   * if it does, the run counts as outcome `internal_error` and the rejection is passed on.
   */
  track<T extends RunResultLike>(started: StartedRun, work: () => Promise<T>): Promise<T> {
    const { integration } = started;
    const fields = {
      runId: started.runId,
      sourceSystemId: integration.sourceSystemId,
      integrationName: integration.integrationName,
    };
    const startedAt = performance.now();
    const record = (outcome: string) =>
      this.metrics.runFinished(integration, started.trigger, outcome, (performance.now() - startedAt) / 1000);
    return runLogContext.run(fields, () =>
      work().then(
        (result) => {
          record(result.kind === 'lease_lost' ? 'lease_lost' : (result.run?.outcome ?? result.kind));
          return result;
        },
        (error: unknown) => {
          record('internal_error');
          throw error;
        },
      ),
    );
  }
}

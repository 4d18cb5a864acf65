import { Injectable, ServiceUnavailableException } from '@nestjs/common';
import { IntegrationsRepository } from '../persistence/integrations.repository';
import { RunsRepository } from '../persistence/runs.repository';
import type { IntegrationRecord, RunRecord } from '../persistence/types';
import { nextFireTime } from '../scheduler/cron-schedule';
import { RunService } from './run.service';

/** What operators do to an integration by hand: run it now, pause it, resume it. */
@Injectable()
export class IntegrationControlService {
  constructor(
    private readonly repository: IntegrationsRepository,
    private readonly runRecords: RunsRepository,
    private readonly runs: RunService,
  ) {}

  /**
   * Runs the integration now and returns the finished run as recorded.
   * @throws RunInProgressError when a run of it holds the lease on any replica
   * @throws ServiceUnavailableException when the run's end could not be recorded
   */
  async runNow(integration: IntegrationRecord): Promise<RunRecord> {
    const result = await this.runs.runNow(integration);
    if (result.kind === 'lease_lost') {
      const run = await this.runRecords.findRun(result.runId).catch(() => null);
      if (run) return run;
      throw new ServiceUnavailableException('the run finished but its result could not be recorded; see the logs');
    }
    if (!result.run) throw new ServiceUnavailableException('the run was interrupted by shutdown');
    return result.run;
  }

  /**
   * Pauses or resumes scheduled runs; every replica reads the flag when claiming. Resuming starts from the next
   * fire time after now (database clock), so a long pause does not look like a misfire.
   */
  async setPaused(integration: IntegrationRecord, paused: boolean): Promise<IntegrationRecord> {
    const next = paused ? null : nextFireTime(integration, await this.repository.now());
    await this.repository.setPaused(integration, paused, next);
    return (await this.repository.findIntegration(integration.sourceSystemId, integration.integrationName))!;
  }
}

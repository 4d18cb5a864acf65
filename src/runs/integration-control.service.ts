import { Injectable, ServiceUnavailableException } from '@nestjs/common';
import { AuditRepository } from '../persistence/audit.repository';
import { IntegrationsRepository } from '../persistence/integrations.repository';
import { PauseRepository, type PauseChange } from '../persistence/pause.repository';
import { RunsRepository } from '../persistence/runs.repository';
import type { IntegrationRecord, RunRecord } from '../persistence/types';
import { nextFireTime } from '../scheduler/cron-schedule';
import { RunService } from './run.service';

/** Raised when a pause's end is not after now (database clock). */
export class PauseEndInPastError extends Error {
  constructor(readonly until: Date) {
    super(`the pause would end at ${until.toISOString()}, which is not in the future`);
    this.name = 'PauseEndInPastError';
  }
}

/**
 * Raised when a run is asked of an integration that is not enabled: no longer in this deployment's configuration
 * (INTEGRATIONS), or configured with `enabled: false`. Its row and history are kept for reading, but nothing calls
 * the upstream on its behalf.
 */
export class IntegrationDisabledError extends Error {
  constructor(readonly integration: Pick<IntegrationRecord, 'sourceSystemId' | 'integrationName'>) {
    super(
      `integration ${integration.sourceSystemId}/${JSON.stringify(integration.integrationName)} is disabled (no longer in INTEGRATIONS, or \`enabled: false\` there), so it can't be run`,
    );
    this.name = 'IntegrationDisabledError';
  }
}

/** Why and until when an operator pauses. */
export interface PauseRequestSpec {
  actor: string;
  reason: string;
  until: Date | null;
}

/**
 * What operators do to integrations by hand: run one now, pause and resume one or a source system's. Every action
 * is appended to the audit trail with its actor.
 */
@Injectable()
export class IntegrationControlService {
  constructor(
    private readonly repository: IntegrationsRepository,
    private readonly runRecords: RunsRepository,
    private readonly runs: RunService,
    private readonly pauses: PauseRepository,
    private readonly audit: AuditRepository,
  ) {}

  /**
   * Runs the integration now and returns the finished run as recorded. The run's end and its audit entry (actor,
   * watermark before and after) commit together. A disabled integration is refused before anything is written: no
   * run row, no audit entry.
   * @throws IntegrationDisabledError when the integration is not enabled
   * @throws RunInProgressError when a run of it holds the lease on any replica
   * @throws ServiceUnavailableException when the run's end could not be recorded
   */
  async runNow(integration: IntegrationRecord, actor: string): Promise<RunRecord> {
    if (!integration.enabled) throw new IntegrationDisabledError(integration);
    const result = await this.runs.runNow(integration, actor);
    if (result.kind === 'lease_lost') return this.endedElsewhere(integration, actor, result.runId);
    if (!result.run) throw new ServiceUnavailableException('the run was interrupted by shutdown');
    return result.run;
  }

  /**
   * Pauses scheduled runs on every replica (manual runs still work), with a reason, and until `until` if given.
   * @throws PauseEndInPastError when `until` is not after now
   */
  async pause(integration: IntegrationRecord, spec: PauseRequestSpec): Promise<IntegrationRecord> {
    await this.checkUntil(spec.until);
    await this.pauses.pause({ integrationId: integration.id }, spec);
    return this.reread(integration);
  }

  /** Resumes scheduled runs from the next fire time after now (database clock), so no backlog is replayed. */
  async resume(integration: IntegrationRecord, actor: string): Promise<IntegrationRecord> {
    await this.pauses.resume({ integrationId: integration.id }, actor, nextFireTime);
    return this.reread(integration);
  }

  /**
   * Pauses every integration of a source system that is not paused yet.
   * @throws PauseEndInPastError when `until` is not after now
   */
  async pauseSourceSystem(sourceSystemId: number, spec: PauseRequestSpec): Promise<PauseChange[]> {
    await this.checkUntil(spec.until);
    return this.pauses.pause({ sourceSystemId }, spec);
  }

  /** Resumes every paused integration of a source system. */
  resumeSourceSystem(sourceSystemId: number, actor: string): Promise<PauseChange[]> {
    return this.pauses.resume({ sourceSystemId }, actor, nextFireTime);
  }

  /**
   * A manual run whose end this replica could not record: either another replica ended it first (its lease had
   * expired: the run is `abandoned`, and this end, with its audit entry, was not written), or the database stayed
   * unreachable (the run is still `running`, until a replica reaps it). The first is answered with the run as
   * recorded and audited here; the second is a 503, since no outcome was recorded.
   */
  private async endedElsewhere(integration: IntegrationRecord, actor: string, runId: string): Promise<RunRecord> {
    const run = await this.runRecords.findRun(runId).catch(() => null);
    if (run === null || run.outcome === 'running') {
      throw new ServiceUnavailableException('the run finished but its result could not be recorded; see the logs');
    }
    const before = run.watermarkBefore;
    await this.audit.append([
      {
        actor,
        action: 'run',
        sourceSystemId: integration.sourceSystemId,
        integrationName: integration.integrationName,
        integrationId: integration.id,
        reason: null,
        before: { watermark: before },
        after: { runId: run.id, outcome: run.outcome, errorCode: run.errorCode, watermark: before },
      },
    ]);
    return run;
  }

  private async checkUntil(until: Date | null): Promise<void> {
    if (until !== null && until.getTime() <= (await this.repository.now()).getTime()) {
      throw new PauseEndInPastError(until);
    }
  }

  private async reread(integration: IntegrationRecord): Promise<IntegrationRecord> {
    return (await this.repository.findIntegration(integration.sourceSystemId, integration.integrationName))!;
  }
}

import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { APP_CONFIG, type AppConfig } from '../config';
import { configHash } from '../config/config-hash';
import { describeDrift, DRIFT_NAMES_SHOWN, hasDrift, type IntegrationDrift } from '../persistence/integration-drift';
import { ClaimsRepository } from '../persistence/claims.repository';
import { IntegrationsRepository } from '../persistence/integrations.repository';
import { PauseRepository } from '../persistence/pause.repository';
import { RunsRepository } from '../persistence/runs.repository';
import { RunService } from '../runs/run.service';
import { nextFireTime } from './cron-schedule';

const TICKER = 'tidemark-ticker';
/** Run history is pruned at most this often, in batches of PRUNE_BATCH rows, so pruning never blocks runs. */
const PRUNE_EVERY_MS = 60_000;
const PRUNE_BATCH = 1_000;

/**
 * Decides *when* runs happen. One ticker per process (not one timer per integration) asks Postgres for the
 * integrations whose stored next fire time has come, claims them, and hands the started runs to RunService.
 * Each fire time is computed from the integration's cron in its own zone and stored, so every replica sees the
 * same schedule and a tick missed while all replicas were down is still known on restart.
 */
@Injectable()
export class SchedulerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(SchedulerService.name);
  private ticking = false;
  private stopped = false;
  /** Claims are being made; settles when the claim loop ends (its runs, if any, are executing by then). */
  private claiming: Promise<void> | null = null;
  /** The last claim filled every slot it had, so more integrations may be due right now. */
  private moreDue = false;
  /** Wakes the ticker at the next fire time when that comes before the next poll. */
  private wakeTimer: NodeJS.Timeout | undefined;
  private lastPruneAt = 0;
  /** When the ticker last completed a tick (ms since epoch); readiness reports it. */
  lastTickAt: number | null = null;

  constructor(
    private readonly integrations: IntegrationsRepository,
    private readonly claims: ClaimsRepository,
    private readonly runRecords: RunsRepository,
    private readonly runs: RunService,
    private readonly registry: SchedulerRegistry,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly pauses: PauseRepository,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.reportDrift(await this.integrations.syncIntegrations(this.config.integrations, nextFireTime));
    const enabled = this.config.integrations.filter((i) => i.enabled).length;
    this.logger.log(`scheduling ${enabled} integration(s); polling every ${this.config.schedule.pollIntervalMs} ms`);
    const timer = setInterval(() => void this.tick(), this.config.schedule.pollIntervalMs);
    this.registry.addInterval(TICKER, timer);
  }

  /**
   * Says what this replica's configuration changed in the shared integration set, in one line: a warning when the
   * database held another replica's set (replicas disagree, as during a rolling update, or a process started with
   * the wrong INTEGRATIONS), an info line when it held none. The structured fields name at most DRIFT_NAMES_SHOWN
   * integrations per kind of change, with the counts of each.
   */
  private reportDrift(drift: IntegrationDrift): void {
    if (!hasDrift(drift)) return;
    const hash = configHash(this.config);
    if (drift.storedBefore === 0) {
      this.logger.log({ msg: `integrations created: ${drift.added.length} added`, configHash: hash });
      return;
    }
    const shown = <T>(items: T[]) => items.slice(0, DRIFT_NAMES_SHOWN);
    this.logger.warn({
      msg: `this replica's integrations (config hash ${hash}) differ from the database's; it changed them: ${describeDrift(drift)}`,
      configHash: hash,
      drift: {
        added: shown(drift.added),
        disabled: shown(drift.disabled),
        scheduleChanged: shown(drift.scheduleChanged),
        counts: {
          added: drift.added.length,
          disabled: drift.disabled.length,
          scheduleChanged: drift.scheduleChanged.length,
        },
      },
    });
  }

  /**
   * Stops taking ticks. Resolves when a claim on its way has ended: the runs it claimed are then executing, so the
   * shutdown coordinator's drain gives them the grace period (a drain that began while a claim was on its way saw
   * none of them, and the runs started after it). In-flight runs are drained by the shutdown coordinator.
   */
  async stop(): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      clearTimeout(this.wakeTimer);
      if (this.registry.doesExist('interval', TICKER)) this.registry.deleteInterval(TICKER);
    }
    // The claim loop's own callers log its errors.
    await this.claiming?.catch(() => undefined);
  }

  onApplicationShutdown(): void {
    void this.stop();
  }

  /**
   * One tick: claim what is due into the free run slots, log ticks skipped because a run still holds the lease or
   * because of the `skip` misfire policy, reap expired leases, and sleep until the next fire time if that comes
   * before the next poll. Errors are logged, never thrown: a failed tick is retried by the next one.
   */
  async tick(): Promise<void> {
    if (this.ticking || this.stopped) return;
    this.ticking = true;
    try {
      this.moreDue = true;
      await this.claimWhileDue();
      // Stopped meanwhile (shutdown): the rest of the tick would run while the pool closes.
      if (this.stopped) return;
      for (const abandoned of await this.claims.reapExpiredLeases()) this.logAbandoned(abandoned);
      await this.resumeEndedPauses();
      await this.pruneIfDue();
      if (!this.moreDue) await this.wakeAtNextFireTime();
      this.lastTickAt = Date.now();
    } catch (error) {
      this.logger.error(`tick failed: ${(error as Error).message}`);
    } finally {
      this.ticking = false;
    }
  }

  /**
   * Claims due integrations, one transaction per batch, while some may still be due and there is room (at most
   * MAX_CONCURRENT_RUNS upstream calls at once in this replica, plus runs claimed ahead that wait for a slot; see
   * RunService.claimCapacity). A run whose call or recording ends calls this again, so a backlog of thousands of due
   * integrations streams through the slots instead of waiting a poll per batch. Small batches wait for a quarter of
   * the slots unless no run is in flight: each claim is a transaction for the service and Postgres alike, so fewer,
   * larger claims cost both less per run.
   */
  private claimWhileDue(): Promise<void> {
    if (this.claiming) return Promise.resolve();
    const claiming = this.claimLoop().finally(() => {
      this.claiming = null;
    });
    this.claiming = claiming;
    return claiming;
  }

  private async claimLoop(): Promise<void> {
    const max = this.config.schedule.maxConcurrentRuns;
    const minBatch = Math.max(1, Math.floor(max / 4));
    while (this.moreDue && !this.stopped) {
      const capacity = this.runs.claimCapacity(max);
      if (capacity <= 0 || (capacity < minBatch && this.runs.inFlightCount > 0)) return;
      const claim = await this.claims.claimDue({
        replicaId: this.config.replicaId,
        leaseMs: this.config.schedule.leaseMs,
        misfireThresholdMs: this.config.schedule.misfireThresholdMs,
        limit: capacity,
        nextFireTime,
      });
      for (const skipped of claim.skippedOverlap) {
        this.logger.warn({
          msg: `tick ${skipped.scheduledFor.toISOString()} of ${skipped.integration.sourceSystemId}/${JSON.stringify(skipped.integration.integrationName)} skipped: the previous run is still going`,
          ...fieldsOf(skipped.integration),
        });
      }
      for (const skipped of claim.skippedMisfire) {
        this.logger.warn({
          msg: `missed tick ${skipped.scheduledFor.toISOString()} of ${skipped.integration.sourceSystemId}/${JSON.stringify(skipped.integration.integrationName)} skipped (misfire policy skip)`,
          ...fieldsOf(skipped.integration),
        });
      }
      for (const abandoned of claim.abandoned) this.logAbandoned(abandoned);
      const slots = { max, onFree: () => this.runEnded() };
      for (const started of claim.started) void this.runs.execute(started, slots).finally(() => this.runEnded());
      this.moreDue = claim.started.length + claim.skippedOverlap.length + claim.skippedMisfire.length >= capacity;
    }
  }

  private runEnded(): void {
    if (!this.moreDue || this.stopped || this.claiming) return;
    this.claimWhileDue().catch((error: unknown) => this.logger.error(`claim failed: ${(error as Error).message}`));
  }

  /** Sets a timer for the next fire time (database clock) when it comes before the next poll. */
  private async wakeAtNextFireTime(): Promise<void> {
    const ms = await this.claims.msUntilNextDue();
    clearTimeout(this.wakeTimer);
    if (ms === null || ms <= 0 || ms >= this.config.schedule.pollIntervalMs || this.stopped) return;
    this.wakeTimer = setTimeout(
      () => {
        if (this.stopped) return;
        this.moreDue = true;
        this.claimWhileDue().catch((error: unknown) => this.logger.error(`claim failed: ${(error as Error).message}`));
      },
      Math.ceil(ms) + 1,
    );
    this.wakeTimer.unref();
  }

  private logAbandoned(abandoned: {
    integration: { sourceSystemId: number; integrationName: string };
    runId: string;
    replicaId: string | null;
  }): void {
    this.logger.warn({
      msg: `run ${abandoned.runId} of ${abandoned.integration.sourceSystemId}/${JSON.stringify(abandoned.integration.integrationName)} marked abandoned: replica ${abandoned.replicaId ?? 'unknown'} stopped renewing its lease`,
      runId: abandoned.runId,
      ...fieldsOf(abandoned.integration),
    });
  }

  /** Resumes integrations whose pause reached its `until`; the database decides which, so one replica does each. */
  private async resumeEndedPauses(): Promise<void> {
    for (const resumed of await this.pauses.resumeEnded(nextFireTime)) {
      this.logger.log({
        msg: `${resumed.sourceSystemId}/${JSON.stringify(resumed.integrationName)} resumed: its pause ended at ${resumed.before.until?.toISOString() ?? 'unknown'}`,
        ...fieldsOf(resumed),
      });
    }
  }

  private async pruneIfDue(): Promise<void> {
    const now = Date.now();
    if (now - this.lastPruneAt < PRUNE_EVERY_MS) return;
    this.lastPruneAt = now;
    const pruned = await this.runRecords.pruneRunHistory(this.config.schedule.runHistoryDays, PRUNE_BATCH);
    if (pruned > 0) this.logger.log(`pruned ${pruned} run(s) older than ${this.config.schedule.runHistoryDays} days`);
  }
}

/** The integration's identity as structured log fields. */
function fieldsOf(integration: { sourceSystemId: number; integrationName: string }): {
  sourceSystemId: number;
  integrationName: string;
} {
  return { sourceSystemId: integration.sourceSystemId, integrationName: integration.integrationName };
}

import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { APP_CONFIG, type AppConfig } from '../config';
import { StateRepository } from '../persistence/state.repository';
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
  private lastPruneAt = 0;
  /** When the ticker last completed a tick (ms since epoch); readiness reports it. */
  lastTickAt: number | null = null;

  constructor(
    private readonly repository: StateRepository,
    private readonly runs: RunService,
    private readonly registry: SchedulerRegistry,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.repository.syncIntegrations(this.config.integrations, nextFireTime);
    const enabled = this.config.integrations.filter((i) => i.enabled).length;
    this.logger.log(`scheduling ${enabled} integration(s); polling every ${this.config.schedule.pollIntervalMs} ms`);
    const timer = setInterval(() => void this.tick(), this.config.schedule.pollIntervalMs);
    this.registry.addInterval(TICKER, timer);
  }

  /** Stops taking ticks; in-flight runs are drained by the shutdown coordinator. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.registry.doesExist('interval', TICKER)) this.registry.deleteInterval(TICKER);
  }

  onApplicationShutdown(): void {
    this.stop();
  }

  /**
   * One tick: claim what is due (up to the free run slots), start those runs, and log ticks skipped because a run
   * still holds the lease or because of the `skip` misfire policy. Errors are logged, never thrown: a failed tick
   * is retried by the next one.
   */
  async tick(): Promise<void> {
    if (this.ticking || this.stopped) return;
    this.ticking = true;
    try {
      const capacity = this.config.schedule.maxConcurrentRuns - this.runs.inFlightCount;
      if (capacity > 0) {
        const claim = await this.repository.claimDue({
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
        for (const started of claim.started) void this.runs.execute(started);
      }
      for (const abandoned of await this.repository.reapExpiredLeases()) this.logAbandoned(abandoned);
      await this.pruneIfDue();
      this.lastTickAt = Date.now();
    } catch (error) {
      this.logger.error(`tick failed: ${(error as Error).message}`);
    } finally {
      this.ticking = false;
    }
  }

  private logAbandoned(abandoned: { integration: { sourceSystemId: number; integrationName: string }; runId: string; replicaId: string | null }): void {
    this.logger.warn({
      msg: `run ${abandoned.runId} of ${abandoned.integration.sourceSystemId}/${JSON.stringify(abandoned.integration.integrationName)} marked abandoned: replica ${abandoned.replicaId ?? 'unknown'} stopped renewing its lease`,
      runId: abandoned.runId,
      ...fieldsOf(abandoned.integration),
    });
  }

  private async pruneIfDue(): Promise<void> {
    const now = Date.now();
    if (now - this.lastPruneAt < PRUNE_EVERY_MS) return;
    this.lastPruneAt = now;
    const pruned = await this.repository.pruneRunHistory(this.config.schedule.runHistoryDays, PRUNE_BATCH);
    if (pruned > 0) this.logger.log(`pruned ${pruned} run(s) older than ${this.config.schedule.runHistoryDays} days`);
  }
}

/** The integration's identity as structured log fields. */
function fieldsOf(integration: { sourceSystemId: number; integrationName: string }): { sourceSystemId: number; integrationName: string } {
  return { sourceSystemId: integration.sourceSystemId, integrationName: integration.integrationName };
}

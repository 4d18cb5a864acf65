import { AsyncLocalStorage } from 'node:async_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type PrometheusContentType } from 'prom-client';
import { APP_CONFIG, type AppConfig } from '../config';
import { configHash } from '../config/config-hash';
import type { IntegrationStateRow } from '../persistence/metrics.repository';
import { UpstreamBreakerRegistry, type UpstreamBreakerState } from '../upstream/breaker';
import { IntegrationStates } from './integration-states';

const INTEGRATION_LABELS = ['source_system_id', 'integration_name'] as const;
type IntegrationLabel = (typeof INTEGRATION_LABELS)[number];

/** Run durations span a fast answer to a slow upstream with retries, s. */
const RUN_DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const BREAKER_STATES: UpstreamBreakerState[] = ['closed', 'open', 'half_open'];

/** One HTTP exchange with the upstream, body included, s. */
const UPSTREAM_DURATION_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * Tidemark's Prometheus metrics, in a registry of its own (not prom-client's global one, so that several apps in
 * one process, as in tests, don't collide).
 *
 * Two kinds, on purpose:
 * - Events this replica saw are per-process counters and histograms (`tidemark_runs_total`,
 *   `tidemark_run_duration_seconds`, `tidemark_upstream_request_duration_seconds`): Prometheus sums them across
 *   replicas (`sum without (instance)`). `tidemark_runs_total` is not counted from the run table: runs are pruned
 *   after RUN_HISTORY_DAYS, and a counter that goes down reads as a reset and corrupts `rate()`.
 * - Shared state is read from Postgres at scrape time (cached {@link STATE_CACHE_MS}) in `collect()` callbacks, so
 *   every replica reports the same per-integration gauges whichever replica executed the runs.
 * The upstream circuit breaker is per process (each replica has its own, per upstream base URL), so its state is
 * this replica's.
 */
@Injectable()
export class MetricsService {
  /**
   * Bound to the Prometheus 0.0.4 text format (OpenMetrics renames counters and ends with `# EOF`), whose metrics
   * {@link exposition} joins as `Registry.metrics()` does.
   */
  readonly registry = new Registry<PrometheusContentType>();
  /** The rendering under way, which scrapes that arrive meanwhile share. */
  private rendering: Promise<{ contentType: string; body: string }> | null = null;
  /** The shared rows of the scrape being rendered, in its async context. */
  private readonly scrapeRows = new AsyncLocalStorage<Promise<IntegrationStateRow[]>>();
  private readonly logger = new Logger('Metrics');

  /** Runs this replica executed, by how they ended (a run outcome, or `lease_lost` when nothing could be recorded). */
  readonly runsTotal: Counter<IntegrationLabel | 'trigger' | 'outcome'>;
  /** Wall time of each run this replica executed, s. */
  readonly runDuration: Histogram<'trigger' | 'outcome'>;
  /** Each IntegrationStart HTTP exchange (every attempt), by HTTP status or `aborted` / `network_error`, s. */
  readonly upstreamRequestDuration: Histogram<'status'>;

  constructor(
    private readonly states: IntegrationStates,
    private readonly moduleRef: ModuleRef,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    this.runsTotal = new Counter({
      name: 'tidemark_runs_total',
      help: 'Runs executed by this replica, by trigger and outcome.',
      labelNames: [...INTEGRATION_LABELS, 'trigger', 'outcome'],
      registers,
    });
    this.runDuration = new Histogram({
      name: 'tidemark_run_duration_seconds',
      help: 'Wall time of runs executed by this replica, from start to the recorded end, in seconds.',
      // Not per integration: 15 series per integration and outcome would make the scrape of thousands of
      // integrations megabytes long. An integration's run durations are in its run history.
      labelNames: ['trigger', 'outcome'],
      buckets: RUN_DURATION_BUCKETS,
      registers,
    });
    this.upstreamRequestDuration = new Histogram({
      name: 'tidemark_upstream_request_duration_seconds',
      help: 'IntegrationStart HTTP exchanges made by this replica (each attempt), by HTTP status, in seconds.',
      labelNames: ['status'],
      buckets: UPSTREAM_DURATION_BUCKETS,
      registers,
    });

    this.registerConfigInfo(config);
    this.registerStateReadSuccess();
    this.registerSharedStateGauges();
    this.registerBreakerState(config.upstream.breaker.threshold);
    this.registerWatermarkRegressions();
  }

  /**
   * The Prometheus text exposition of every metric, the text `Registry.metrics()` writes for the 0.0.4 format. With
   * thousands of integrations a scrape renders tens of thousands of series; each metric is rendered in a turn of the
   * event loop of its own, so that the requests that arrive meanwhile wait for one metric, not for the whole scrape.
   *
   * Scrapes that overlap (two Prometheus servers) share one rendering: prom-client fills some metrics in another
   * metric's collect (the event-loop delay histogram is read and restarted in one), and two renderings taking turns
   * would show one the other's values. A rendering reads the shared state once, so its per-integration series and
   * `tidemark_state_read_success` agree.
   */
  exposition(): Promise<{ contentType: string; body: string }> {
    this.rendering ??= this.render().finally(() => (this.rendering = null));
    return this.rendering;
  }

  private async render(): Promise<{ contentType: string; body: string }> {
    const rows = this.states.read();
    rows.catch(() => undefined); // reported by tidemark_state_read_success
    const parts = await this.scrapeRows.run(rows, async () => {
      const rendered: string[] = [];
      for (const metric of this.registry.getMetricsAsArray()) {
        rendered.push(await this.registry.getSingleMetricAsString(metric.name));
        await nextTurn();
      }
      return rendered;
    });
    return { contentType: this.registry.contentType, body: `${parts.join('\n\n')}\n` };
  }

  /**
   * Records one finished run.
   * @param durationSeconds wall time from start to the recorded end, s
   */
  runFinished(
    integration: { sourceSystemId: number; integrationName: string },
    trigger: string,
    outcome: string,
    durationSeconds: number,
  ): void {
    this.runsTotal.inc({ ...labelsOf(integration), trigger, outcome });
    this.runDuration.observe({ trigger, outcome }, durationSeconds);
  }

  /** Lets a dashboard spot replicas running different configurations. */
  private registerConfigInfo(config: AppConfig): void {
    new Gauge({
      name: 'tidemark_config_info',
      help: "Always 1, labelled with this replica's configuration hash (secrets left out): replicas that disagree show different hashes.",
      labelNames: ['config_hash'],
      registers: [this.registry],
    }).set({ config_hash: configHash(config) }, 1);
  }

  /** Reports (and logs) a failed read of the shared state once per scrape; the per-integration series go absent. */
  private registerStateReadSuccess(): void {
    const readSuccess: Gauge = new Gauge({
      name: 'tidemark_state_read_success',
      help: '1 when this scrape read the shared integration state from Postgres, 0 when that failed (the per-integration series are then absent).',
      registers: [this.registry],
      collect: async () => {
        try {
          await this.sharedRows();
          readSuccess.set(1);
        } catch (error) {
          this.logger.warn(`metrics: reading integration state failed: ${(error as Error).message}`);
          readSuccess.set(0);
        }
      },
    });
  }

  /** Per-integration gauges of the shared state, absent for an integration that has no value yet. */
  private registerSharedStateGauges(): void {
    this.sharedGauge(
      'tidemark_watermark_lag_seconds',
      'Now minus the watermark maxSyncDateTimeUtc, by the database clock, in seconds. Absent before the first watermark.',
      (row) => row.watermarkLagSeconds,
    );
    this.sharedGauge(
      'tidemark_last_success_timestamp_seconds',
      'When the last successful run finished, Unix time in seconds. Absent before the first success.',
      (row) => row.lastSucceededAtSeconds,
    );
    this.sharedGauge(
      'tidemark_consecutive_failures',
      'Failed runs since the last success.',
      (row) => row.consecutiveFailures,
    );
    this.sharedGauge(
      'tidemark_watermark_zone_assumed',
      '1 when the stored watermark had no UTC offset and was read in UPSTREAM_TIMEZONE, else 0.',
      (row) => (row.zoneAssumed ? 1 : 0),
    );
    this.sharedGauge('tidemark_integration_paused', '1 while scheduled runs of the integration are paused.', (row) =>
      row.paused ? 1 : 0,
    );
  }

  /** @param threshold UPSTREAM_BREAKER_THRESHOLD, quoted in the help text */
  private registerBreakerState(threshold: number): void {
    const breakerState: Gauge = new Gauge({
      name: 'tidemark_upstream_breaker_state',
      help: `This replica's circuit breaker for each upstream: 1 for its current state (closed, open or half_open), 0 for the others. It opens after UPSTREAM_BREAKER_THRESHOLD (${threshold}) failed runs in a row.`,
      labelNames: ['upstream', 'state'],
      registers: [this.registry],
      collect: () => {
        breakerState.reset();
        for (const breaker of this.breakerRegistry()?.snapshots() ?? []) {
          for (const state of BREAKER_STATES)
            breakerState.set({ upstream: breaker.baseUrl, state }, breaker.state === state ? 1 : 0);
        }
      },
    });
  }

  /** Counted from the recorded run history at scrape time, so every replica reports the same count. */
  private registerWatermarkRegressions(): void {
    const regressions: Counter = new Counter({
      name: 'tidemark_watermark_regressions_total',
      help: 'Recorded runs whose watermark moved backwards (within the kept run history).',
      labelNames: INTEGRATION_LABELS,
      registers: [this.registry],
      collect: async () => {
        const rows = await this.rowsOrNone();
        regressions.reset();
        for (const row of rows) regressions.inc(labelsOf(row), row.watermarkRegressions);
      },
    });
  }

  /** The upstream module's breakers; looked up lazily because that module keeps them to itself. */
  private breakerRegistry(): UpstreamBreakerRegistry | null {
    try {
      return this.moduleRef.get(UpstreamBreakerRegistry, { strict: false });
    } catch {
      return null;
    }
  }

  private sharedGauge(name: string, help: string, value: (row: IntegrationStateRow) => number | null): void {
    const gauge: Gauge = new Gauge({
      name,
      help,
      labelNames: INTEGRATION_LABELS,
      registers: [this.registry],
      collect: async () => {
        const rows = await this.rowsOrNone();
        // Emptied and filled in one turn: no rendering sees the gauge half filled.
        gauge.reset();
        for (const row of rows) {
          const v = value(row);
          if (v !== null) gauge.set(labelsOf(row), v);
        }
      },
    });
  }

  /** The shared rows, or none when the read failed (tidemark_state_read_success reports and logs that once). */
  private async rowsOrNone(): Promise<IntegrationStateRow[]> {
    try {
      return await this.sharedRows();
    } catch {
      return [];
    }
  }

  /** The scrape's rows when a scrape is rendering; otherwise (`registry.metrics()` called directly) a read. */
  private sharedRows(): Promise<IntegrationStateRow[]> {
    return this.scrapeRows.getStore() ?? this.states.read();
  }
}

function labelsOf(integration: { sourceSystemId: number; integrationName: string }): Record<IntegrationLabel, string> {
  return { source_system_id: String(integration.sourceSystemId), integration_name: integration.integrationName };
}

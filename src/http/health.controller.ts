import { Controller, Get, Inject, Res, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService, type HealthCheckResult } from '@nestjs/terminus';
import { SkipThrottle } from '@nestjs/throttler';
import type { FastifyReply } from 'fastify';
import { APP_CONFIG, type AppConfig } from '../config';
import { configHash } from '../config/config-hash';
import { ShutdownState } from '../lifecycle/shutdown-state';
import { StalenessCheck } from '../observability/integration-states';
import { IntegrationsRepository } from '../persistence/integrations.repository';
import { SchedulerService } from '../scheduler/scheduler.service';
import { UpstreamClient } from '../upstream/upstream.client';
import { Public } from './auth/access.decorators';

/** A database that answers slower than this counts as down for readiness, ms. */
const DATABASE_TIMEOUT_MS = 3_000;
/** The scheduler heartbeat may be at most max(3 polls, this) old, ms. */
const MIN_HEARTBEAT_AGE_MS = 5_000;

/**
 * Kubernetes-style probes with @nestjs/terminus, open without a key and not rate limited.
 *
 * `GET /health/ready` answers terminus's `{status, info, error, details}`:
 * - `database` (down → 503): `SELECT 1` within 3 s.
 * - `scheduler` (down → 503): the ticker completed a tick within max(3 × SCHEDULER_POLL_MS, 5 s).
 * - `shutdown` (down → 503): the replica is draining runs before exit.
 * - `integrations` (degraded → 200, status `degraded`): enabled, unpaused integrations whose last success is older
 *   than STALE_AFTER_MS (default 3× their interval), listed in `stale`. Stale data is not a reason to take the
 *   replica out of the load balancer: every replica reads the same database.
 * - `config` (always up): `configHash`, this replica's configuration hash, so replicas that disagree show.
 */
@ApiTags('health')
@Public()
@SkipThrottle()
@Controller('health')
export class HealthController {
  private readonly startedAt = Date.now();
  private readonly configHash: string;

  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly repository: IntegrationsRepository,
    private readonly scheduler: SchedulerService,
    private readonly shutdown: ShutdownState,
    private readonly staleness: StalenessCheck,
    private readonly upstream: UpstreamClient,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.configHash = configHash(config);
  }

  /** Up while the event loop turns; no dependency is checked, so a database outage never restarts the pod. */
  @Get('live')
  @ApiOperation({
    operationId: 'getLiveness',
    summary: 'Liveness: up while the event loop turns.',
    description: 'Checks no dependency, so that a database outage never restarts the pod. No key needed.',
  })
  @ApiOkResponse({ description: 'The process is alive.' })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @HealthCheck()
  @ApiOperation({
    operationId: 'getReadiness',
    summary: 'Readiness: database, scheduler, shutdown, staleness.',
    description:
      'Terminus checks: `database`, `scheduler` and `shutdown` down answer 503; stale integrations and an open upstream breaker answer 200 `degraded`. No key needed.',
  })
  @ApiOkResponse({ description: 'Ready (`ok`), or ready with stale integrations listed (`degraded`).' })
  @ApiServiceUnavailableResponse({ description: 'Database unreachable, scheduler stalled, or shutting down.' })
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<HealthCheckResult> {
    let result: HealthCheckResult;
    try {
      result = await this.health.check([
        () =>
          this.indicators
            .check('database')
            .attempt(() => this.repository.ping())
            .withTimeout(DATABASE_TIMEOUT_MS),
        () => this.schedulerIndicator(),
        () => this.integrationsIndicator(),
        () => this.upstreamIndicator(),
        () => this.indicators.check('config').up({ configHash: this.configHash }),
      ]);
    } catch (error) {
      // Terminus throws its result in a 503 exception; served as is rather than as a problem document, so that
      // probes and people see which check failed.
      if (!(error instanceof ServiceUnavailableException)) throw error;
      result = error.getResponse() as HealthCheckResult;
    }
    result = this.withShutdown(result);
    if (result.status !== 'ok' && result.status !== 'degraded') void reply.status(503);
    return result;
  }

  /**
   * Adds the `shutdown` check to terminus's result. It stays out of `health.check` because terminus logs every
   * result with a check down at error level: a planned drain is not a fault, and paging operators for it would
   * drown the real failures, which terminus still logs. Read after the other checks, so that a drain that began
   * while they ran already answers 503.
   */
  private withShutdown(result: HealthCheckResult): HealthCheckResult {
    const session = this.indicators.check('shutdown');
    if (!this.shutdown.shuttingDown) {
      const up = session.up();
      return { ...result, info: { ...up, ...result.info }, details: { ...up, ...result.details } };
    }
    const down = session.down({ message: 'the replica is shutting down' });
    return {
      // Terminus's own `shutting_down` (once the app closes) stays as it is.
      status: result.status === 'shutting_down' ? result.status : 'error',
      info: result.info,
      error: { ...result.error, ...down },
      details: { ...result.details, ...down },
    };
  }

  private schedulerIndicator() {
    const session = this.indicators.check('scheduler');
    const maxAgeMs = Math.max(3 * this.config.schedule.pollIntervalMs, MIN_HEARTBEAT_AGE_MS);
    const last = this.scheduler.lastTickAt;
    const now = Date.now();
    // Before the first tick the heartbeat counts from boot, so a replica is ready at once but not forever.
    const ageMs = now - (last ?? this.startedAt);
    const data = { lastTickAt: last === null ? null : new Date(last).toISOString(), maxAgeMs };
    return ageMs <= maxAgeMs
      ? session.up(data)
      : session.down({ ...data, message: `no completed scheduler tick for ${ageMs} ms` });
  }

  /**
   * This replica's circuit breaker for the upstream. An open breaker makes readiness degraded, not 503: the
   * replica can still serve the stored watermarks, and taking every replica out of the load balancer would not
   * bring the upstream back.
   */
  private upstreamIndicator() {
    const session = this.indicators.check('upstream');
    const { baseUrl, state, consecutiveFailures, threshold, openedAt } = this.upstream.breakerSnapshot();
    const data = { baseUrl, breaker: state, consecutiveFailedRuns: consecutiveFailures, threshold, openedAt };
    return state === 'closed' ? session.up(data) : session.degraded(data);
  }

  private async integrationsIndicator() {
    const session = this.indicators.check('integrations');
    let stale;
    try {
      stale = await this.staleness.staleIntegrations();
    } catch (error) {
      // The database indicator reports the outage; this one just can't say more.
      return session.degraded({ message: `staleness unknown: ${(error as Error).message}` });
    }
    return stale.length === 0 ? session.up() : session.degraded({ stale });
  }
}

import { Inject, Injectable, Logger } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config';
import { RunService } from '../runs/run.service';
import { SchedulerService } from '../scheduler/scheduler.service';
import { ShutdownState } from './shutdown-state';

/**
 * Graceful shutdown, while the HTTP server still answers: readiness turns 503, the ticker stops taking ticks, and
 * in-flight runs get SHUTDOWN_GRACE_MS to finish; the rest are recorded `interrupted` with their leases released.
 *
 * Called explicitly before `app.close()` rather than from a Nest lifecycle hook: `onModuleDestroy` hooks (the
 * upstream client's keep-alive agents, for one) run before any shutdown hook and would cut in-flight runs short.
 */
@Injectable()
export class ShutdownCoordinator {
  private readonly logger = new Logger('Shutdown');

  constructor(
    private readonly state: ShutdownState,
    private readonly scheduler: SchedulerService,
    private readonly runs: RunService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async drain(signal?: string): Promise<void> {
    this.state.shuttingDown = true;
    await this.scheduler.stop();
    const inFlight = this.runs.inFlightCount;
    if (inFlight > 0) {
      this.logger.log(`${signal ?? 'shutdown'}: waiting up to ${this.config.schedule.shutdownGraceMs} ms for ${inFlight} run(s)`);
    }
    const { finished, interrupted } = await this.runs.drain(this.config.schedule.shutdownGraceMs);
    if (inFlight > 0) this.logger.log(`runs finished: ${finished}, interrupted: ${interrupted}`);
  }
}

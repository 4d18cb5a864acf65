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
    const graceEndsAt = Date.now() + this.config.schedule.shutdownGraceMs;
    this.runs.stopWaiting();
    // A claim on its way: the runs it claims get what is left of the grace period if it ends within it. One that
    // takes longer (a database that stopped answering) is not waited for past it; its runs, if it ever ends, are
    // recorded `interrupted` without a call.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.scheduler.stop(),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, this.config.schedule.shutdownGraceMs))),
    ]);
    clearTimeout(timer);
    const graceMs = Math.max(0, graceEndsAt - Date.now());
    const inFlight = this.runs.inFlightCount;
    if (inFlight > 0) this.logger.log(`${signal ?? 'shutdown'}: waiting up to ${graceMs} ms for ${inFlight} run(s)`);
    const { finished, interrupted } = await this.runs.drain(graceMs);
    if (inFlight > 0) this.logger.log(`runs finished: ${finished}, interrupted: ${interrupted}`);
  }
}

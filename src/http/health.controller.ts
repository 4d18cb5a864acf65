import { Controller, Get, HttpCode, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { StateRepository } from '../persistence/state.repository';
import { ShutdownState } from '../lifecycle/shutdown-state';

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly repository: StateRepository,
    private readonly shutdown: ShutdownState,
  ) {}

  /** Up while the event loop turns; no dependency is checked, so a database outage never restarts the pod. */
  @Get('live')
  @HttpCode(200)
  @ApiOkResponse({ description: 'The process is alive.' })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Ready when the database answers and the replica is not shutting down. */
  @Get('ready')
  @ApiOkResponse({ description: 'Ready to serve.' })
  @ApiServiceUnavailableResponse({ description: 'Database unreachable or shutting down.' })
  async ready(): Promise<{ status: 'ok'; details: Record<string, { status: 'up' | 'down'; detail?: string }> }> {
    if (this.shutdown.shuttingDown) {
      throw new ServiceUnavailableException('the replica is shutting down');
    }
    try {
      await this.repository.ping();
    } catch (error) {
      throw new ServiceUnavailableException(`the database does not answer: ${(error as Error).message}`);
    }
    return { status: 'ok', details: { database: { status: 'up' } } };
  }
}

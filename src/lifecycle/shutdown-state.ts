import { Injectable } from '@nestjs/common';

/** Whether this replica has begun shutting down; readiness turns 503 from then on. */
@Injectable()
export class ShutdownState {
  shuttingDown = false;
}

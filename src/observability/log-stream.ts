import { writeSync } from 'node:fs';
import type { DestinationStream } from 'pino';

/** How long a write waits for a full pipe to drain before it tries again. */
const RETRY_MS = 1;
/** How long a line may wait for the lines after it, so that a busy service writes a few times per second. */
const GATHER_MS = 20;
/** Pending text that is written at once rather than gathered further. */
const GATHER_LIMIT = 64 * 1024;

/**
 * A pino destination that gathers lines for up to {@link GATHER_MS} (or {@link GATHER_LIMIT} characters) and
 * writes them with one system call: a busy service logs a line per request, and a write per line, or per turn of
 * the event loop, cost more than building the line. Writes are synchronous (none is held in a thread pool at exit), but
 * never block on a full pipe: what the reader has not taken yet is kept and written again shortly, and only at exit
 * does the stream wait for the reader. What is pending when the process exits is written then.
 *
 * Lines are strings from pino, each ending in a newline; their order is kept.
 */
export class BatchedLogStream implements DestinationStream {
  private pending: string[] = [];
  /** Bytes of an earlier batch that the reader did not take yet; they go first. */
  private carry: Buffer | null = null;
  private scheduled = false;
  private pendingLength = 0;
  /** The reader went away (EPIPE): lines are dropped from then on, as pino's own destination does. */
  private broken = false;

  constructor(private readonly fd: number) {}

  write(line: string): boolean {
    if (this.broken) return true;
    this.pending.push(line);
    this.pendingLength += line.length;
    if (this.pendingLength >= GATHER_LIMIT) {
      this.writeOut(false);
    } else if (!this.scheduled) {
      this.scheduled = true;
      setTimeout(this.flushLater, GATHER_MS).unref();
    }
    return true;
  }

  /** Writes everything pending now, waiting for the reader if it must. */
  flushSync(): void {
    this.writeOut(true);
  }

  /** pino's `logger.flush(cb)`: everything pending is written before `cb` runs. */
  flush(cb?: (error?: Error) => void): void {
    this.writeOut(true);
    cb?.();
  }

  private readonly flushLater = (): void => {
    this.scheduled = false;
    this.writeOut(false);
  };

  private writeOut(wait: boolean): void {
    if (this.pending.length > 0) {
      const batch = Buffer.from(this.pending.join(''));
      this.pending = [];
      this.pendingLength = 0;
      this.carry = this.carry === null ? batch : Buffer.concat([this.carry, batch]);
    }
    while (this.carry !== null && !this.broken) {
      try {
        const written = writeSync(this.fd, this.carry);
        this.carry = written >= this.carry.length ? null : this.carry.subarray(written);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EPIPE') {
          this.broken = true;
          this.carry = null;
          this.pending = [];
          this.pendingLength = 0;
        } else if (code !== 'EAGAIN') {
          throw error;
        } else if (wait) {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, RETRY_MS);
        } else {
          if (!this.scheduled) {
            this.scheduled = true;
            setTimeout(this.flushLater, RETRY_MS).unref();
          }
          return;
        }
      }
    }
  }
}

let stdout: BatchedLogStream | null = null;

/** The process's one batched stdout stream; what is pending at exit is written before the process ends. */
export function batchedStdout(): BatchedLogStream {
  if (stdout === null) {
    const stream = (stdout = new BatchedLogStream(1));
    process.once('exit', () => stream.flushSync());
  }
  return stdout;
}

/**
 * Scripted answers for fault tests: the queues a call takes its answer from, and the playback of one answer on the
 * wire (delay, hang, status and headers, trickled body, reset mid-body). Every wait can be cancelled, so a client that
 * goes away or a simulator that stops never leaves a timer behind.
 */
import { readFileSync } from 'node:fs';
import type * as http from 'node:http';
import * as path from 'node:path';
import { JSON_CONTENT_TYPE, XML_CONTENT_TYPE } from './routing';

/**
 * One scripted answer, consumed by one IntegrationStart call (after auth and request validation
 * have passed). Without `body`, `bodyFromVector` or `firstRun`, a 2xx answer (or no `status`)
 * carries the normal generated DTO and advances the watermark; a non-2xx answer carries an
 * ASP.NET error JSON.
 */
export interface ScriptedAnswer {
  /** HTTP status; default 200. */
  status?: number;
  /** Extra response headers; they replace defaults case-insensitively (incl. Content-Type / Content-Length). */
  headers?: Record<string, string>;
  /** Exact response body. Content-Type defaults to XML when it starts with `<`, JSON otherwise. */
  body?: string | Buffer;
  /** File name under `test/fixtures/upstream/responses` (relative to `process.cwd()`), read when scripted. */
  bodyFromVector?: string;
  /** Answer the generated "first run" DTO (null watermark, ProcessStatusMeaning "Running"). */
  firstRun?: boolean;
  /** Milliseconds to wait before sending headers (on top of the simulator latency). */
  delayMs?: number;
  /** Send the body in chunks of this many bytes... */
  trickleBytesPerTick?: number;
  /** ...one chunk every this many milliseconds (defaults: 1 byte, 10 ms when only one is given). */
  trickleIntervalMs?: number;
  /** Send headers (with the full Content-Length) and this many body bytes, then reset the TCP connection. */
  resetAfterBytes?: number;
  /** Never answer; the call stays in flight until the client gives up or the simulator stops. */
  hangForever?: boolean;
}

/** A validated answer, its vector file already read, so a missing file fails the `script()` call, not a request. */
export interface StoredAnswer extends Omit<ScriptedAnswer, 'bodyFromVector'> {
  vectorBody?: { body: Buffer; contentType: string };
}

/** Lets the client read the bytes sent before a reset; an RST can make the peer drop unread data. */
const RESET_GRACE_MS = 25;

/**
 * The queued answers: one queue per pair key and one for any pair. A call takes from its pair's queue first, then from
 * the shared one, and gets the default generated answer when both are empty.
 */
export class AnswerScript {
  private readonly queues = new Map<string, StoredAnswer[]>();
  private readonly wildcard: StoredAnswer[] = [];

  /**
   * Queues answers for a pair key (see `keyOf`), or for any pair with `'*'`.
   * @throws TypeError for a malformed answer; Error when `bodyFromVector` cannot be read. Nothing is queued then.
   */
  add(key: string, answers: readonly ScriptedAnswer[]): void {
    const stored = answers.map(prepareAnswer);
    if (key === '*') {
      this.wildcard.push(...stored);
      return;
    }
    const queue = this.queues.get(key) ?? [];
    queue.push(...stored);
    this.queues.set(key, queue);
  }

  /** The next answer for a pair key, or undefined for the default answer. */
  take(key: string): StoredAnswer | undefined {
    const queue = this.queues.get(key);
    if (queue && queue.length > 0) return queue.shift();
    return this.wildcard.shift();
  }

  clear(): void {
    this.queues.clear();
    this.wildcard.length = 0;
  }
}

function prepareAnswer(answer: ScriptedAnswer): StoredAnswer {
  validateAnswer(answer);
  const { bodyFromVector, ...rest } = answer;
  if (bodyFromVector === undefined) return { ...rest };
  const dir = path.resolve(process.cwd(), 'test/fixtures/upstream/responses');
  const file = path.resolve(dir, bodyFromVector);
  if (path.dirname(file) !== dir) throw new TypeError(`bodyFromVector must be a file name in ${dir}`);
  const body = readFileSync(file);
  return { ...rest, vectorBody: { body, contentType: file.endsWith('.xml') ? XML_CONTENT_TYPE : JSON_CONTENT_TYPE } };
}

function validateAnswer(answer: ScriptedAnswer): void {
  if (typeof answer !== 'object' || answer === null) throw new TypeError('A scripted answer must be an object');
  const nonNegative = (name: keyof ScriptedAnswer) => {
    const v = answer[name];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) {
      throw new TypeError(`${name} must be a non-negative number`);
    }
  };
  if (answer.status !== undefined && (!Number.isInteger(answer.status) || answer.status < 200 || answer.status > 599)) {
    throw new TypeError('status must be an integer from 200 to 599');
  }
  nonNegative('delayMs');
  nonNegative('trickleIntervalMs');
  nonNegative('resetAfterBytes');
  if (
    answer.trickleBytesPerTick !== undefined &&
    (!Number.isInteger(answer.trickleBytesPerTick) || answer.trickleBytesPerTick < 1)
  ) {
    throw new TypeError('trickleBytesPerTick must be a positive integer');
  }
  if (answer.body !== undefined && typeof answer.body !== 'string' && !Buffer.isBuffer(answer.body)) {
    throw new TypeError('body must be a string or Buffer');
  }
  if (answer.headers !== undefined) {
    if (typeof answer.headers !== 'object' || answer.headers === null) throw new TypeError('headers must be an object');
    for (const v of Object.values(answer.headers))
      if (typeof v !== 'string') throw new TypeError('header values must be strings');
  }
}

/**
 * Cancels one call's waits when its client goes away or the simulator stops. A wait is a timer with a callback, not an
 * AbortSignal: with a latency set every call waits, and a timer costs less than a signal per call.
 */
export class CallCancel {
  private cancelled = false;
  private onCancel: (() => void) | null = null;

  get aborted(): boolean {
    return this.cancelled;
  }

  /** Calls `fn` on cancel; one at a time (null removes it). */
  whenCancelled(fn: (() => void) | null): void {
    this.onCancel = fn;
  }

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    const fn = this.onCancel;
    this.onCancel = null;
    fn?.();
  }
}

/** Waits `ms`; resolves false instead of throwing when the call was cancelled meanwhile. */
export function sleep(ms: number, cancel: CallCancel): Promise<boolean> {
  if (cancel.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => {
      cancel.whenCancelled(null);
      resolve(true);
    }, ms);
    cancel.whenCancelled(() => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

function write(res: http.ServerResponse, chunk: Buffer): Promise<void> {
  return new Promise((resolve) => {
    if (res.destroyed) return resolve();
    res.write(chunk, () => resolve());
  });
}

/** One answer ready to go out: the scripted faults to apply, and what to send. */
export interface Playback {
  answer: StoredAnswer;
  status: number;
  /** Bytes, or text to send as UTF-8 (a generated DTO: written with the head as one string, never copied). */
  body: Buffer | string;
  contentType: string;
}

/**
 * Sends one answer as scripted: waits `delayMs`, never answers on `hangForever`, else writes the head (scripted
 * headers replace the defaults case-insensitively) and the body, whole, trickled, or cut by a TCP reset.
 * `onReset` runs right after a reset, because the response's own 'close' may come after the client saw it.
 */
export async function playAnswer(
  res: http.ServerResponse,
  cancel: CallCancel,
  { answer, status, body: given, contentType }: Playback,
  onReset: () => void,
): Promise<void> {
  if (answer.delayMs && !(await sleep(answer.delayMs, cancel))) return;
  if (answer.hangForever) return;
  const limit = answer.resetAfterBytes;
  const trickling = answer.trickleBytesPerTick !== undefined || answer.trickleIntervalMs !== undefined;
  if (answer.headers === undefined && limit === undefined && !trickling) {
    // The usual answer: the default head, and head and body in one write.
    const length = typeof given === 'string' ? Buffer.byteLength(given, 'utf8') : given.length;
    res.writeHead(status, ['Content-Type', contentType, 'Content-Length', String(length)]);
    res.end(given);
    return;
  }
  const body = typeof given === 'string' ? Buffer.from(given, 'utf8') : given;

  const headers = new Map<string, [string, string]>();
  const put = (name: string, value: string) => headers.set(name.toLowerCase(), [name, value]);
  put('Content-Type', contentType);
  put('Content-Length', String(body.length));
  for (const [name, value] of Object.entries(answer.headers ?? {})) put(name, value);
  res.writeHead(status, [...headers.values()].flat());
  if (limit === undefined && !trickling) {
    res.end(body);
    return;
  }
  res.flushHeaders();

  const toSend = limit === undefined ? body : body.subarray(0, limit);
  if (trickling) {
    const step = answer.trickleBytesPerTick ?? 1;
    const interval = answer.trickleIntervalMs ?? 10;
    for (let offset = 0; offset < toSend.length; offset += step) {
      if (!(await sleep(interval, cancel))) return;
      await write(res, toSend.subarray(offset, offset + step));
    }
  } else if (toSend.length > 0) {
    await write(res, toSend);
  }
  if (limit !== undefined) {
    await sleep(RESET_GRACE_MS, cancel);
    const socket = res.socket;
    if (socket && !socket.destroyed) socket.resetAndDestroy();
    onReset();
    return;
  }
  res.end();
}

/**
 * A real HTTP server that behaves like the upstream ASP.NET Web API endpoint
 * `POST api/integration/IntegrationStatus/IntegrationStart` (see
 * /work/shared/seed/IntegrationStart-api-help.txt), plus an OAuth2 token endpoint, scripting for
 * fault tests, and observability of what clients sent. Built on `node:http` alone so that what a
 * client sees on the wire (headers, slow bodies, resets) is exactly what a test asked for.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import * as path from 'node:path';
import { type IntegrationStatusDto, writeDtoJson, writeDtoXml } from './dto-writer';
import { NS_PER_TICK, createDefaultClock, formatTicks, parseOffsetMinutes, parseTicks } from './net-time';
import {
  type AspNetError,
  type DeserializedRequest,
  RequestBodyError,
  readJsonRequest,
  readXmlRequest,
} from './request-reader';

/** The route of the simulated endpoint (matched case-insensitively, as ASP.NET routing does). */
export const INTEGRATION_START_PATH = '/api/integration/IntegrationStatus/IntegrationStart';
/** The route of the OAuth2 client_credentials token endpoint. */
export const TOKEN_PATH = '/api/token/authorize';

/** Identifies one integration at the upstream. `integrationName` is compared case-insensitively. */
export interface SimulatorKey {
  /** .NET `int`. */
  sourceSystemId: number;
  integrationName: string;
}

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

/** One IntegrationStart request as the simulator received it. */
export interface SimulatorCall {
  /** As deserialised (0 when absent or skipped by DataContract rules); null when the body was unreadable. */
  sourceSystemId: number | null;
  /** As deserialised; null when absent, skipped, nil, or the body was unreadable. */
  integrationName: string | null;
  /** Request body format, from its Content-Type. */
  format: 'json' | 'xml';
  /** `Date.now()` when the request arrived (ms since epoch). */
  receivedAt: number;
  /** `Date.now()` when the response was finished or the connection closed. */
  finishedAt?: number;
  /** Request headers, names lower-cased (Node's `IncomingHttpHeaders`). */
  headers: Record<string, string | string[] | undefined>;
  /** Request body as UTF-8 text. */
  rawBody: string;
  /** Status line sent, once headers went out (absent for hangs and aborted delays). */
  status?: number;
  /** Whether a scripted answer was used. */
  scripted?: boolean;
}

/** Auth the simulated endpoint demands. */
export interface SimulatorAuthConfig {
  mode: 'none' | 'bearer' | 'basic' | 'client_credentials';
  /** `bearer`: the one accepted token. */
  token?: string;
  /** `basic`: credentials. */
  username?: string;
  password?: string;
  /** `client_credentials`: client accepted by the token endpoint. */
  clientId?: string;
  clientSecret?: string;
  /** `client_credentials`: lifetime of issued tokens in seconds, by the simulator clock; default 3600. */
  tokenTtlSeconds?: number;
  /** `client_credentials`: answer `access_token` as `"Bearer xyz"` (some servers do; clients must not send "Bearer Bearer"). */
  prefixBearer?: boolean;
}

/** Where the next answer for a pair starts from. */
export interface SeedOptions {
  /** Exact MaxSyncDateMaxPKId of the next generated answer (.NET long; give a bigint or decimal string beyond 2^53). */
  maxSyncDateMaxPKId?: bigint | string | number;
  /** Instant of the next MaxSyncDateTime (`yyyy-MM-ddTHH:mm:ss[.fffffff](Z|±HH:MM)`), written in the simulator's offset. */
  maxSyncDateTime?: string;
  /** SourceId of every answer for the pair (.NET long). */
  sourceId?: bigint | string | number;
  /** Whether the next call answers the "first run" shape. */
  firstRun?: boolean;
}

/** Construction options. */
export interface UpstreamSimulatorOptions {
  /** Delay before every IntegrationStart call is processed, ms; default 0. */
  latencyMs?: number;
  /** Offset the simulated server writes dates in, `±HH:MM`; default `+00:00`. */
  timeZoneOffset?: string;
  /** Wall clock, ns since the Unix epoch; default is `Date.now()` advanced by `process.hrtime`. */
  clock?: () => bigint;
  /** Every pair's very first call answers the "first run" shape (nulls); default false. */
  firstCallReturnsFirstRun?: boolean;
  /** MaxSyncDateMaxPKId of a pair's first generated answer; default 1000. */
  pkStart?: bigint;
  /** Increase of MaxSyncDateMaxPKId per generated answer; default 1. */
  pkStep?: bigint;
  /** Write dates like real .NET (`FFFFFFF`: trailing fraction zeros dropped) instead of always 7 digits; default false. */
  trimFractionZeros?: boolean;
  /**
   * Keep only about the newest N entries in `calls` (and `callCount`), for long-running demo use: at most N + N/10,
   * trimmed back to N; default unlimited.
   */
  maxRecordedCalls?: number;
}

interface PairState {
  sourceSystemId: number;
  /** The spelling first seen: the upstream answers its stored name, not the caller's casing. */
  integrationName: string;
  lastPk: bigint | null;
  nextPk: bigint | null;
  lastSyncTicks: bigint | null;
  nextSyncTicks: bigint | null;
  sourceId: bigint;
  runs: number;
  firstRunPending: boolean;
}

interface StoredAnswer extends Omit<ScriptedAnswer, 'bodyFromVector'> {
  vectorBody?: { body: Buffer; contentType: string };
}

interface Negotiated {
  format: 'json' | 'xml';
  contentType: string;
}

const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';
const XML_CONTENT_TYPE = 'application/xml; charset=utf-8';
const MAX_BODY_BYTES = 1024 * 1024;
/** Lets the client read the bytes sent before a reset; an RST can make the peer drop unread data. */
const RESET_GRACE_MS = 25;
const REALM = 'tidemark-simulator';

function keyOf(sourceSystemId: number, integrationName: string): string {
  return `${sourceSystemId}|${integrationName.toUpperCase()}`;
}

function mediaTypeOf(header: string | undefined): string {
  const text = header ?? '';
  let mediaType = MEDIA_TYPES.get(text);
  if (mediaType === undefined) {
    mediaType = text.split(';')[0].trim().toLowerCase();
    if (MEDIA_TYPES.size < MAX_MEMO) MEDIA_TYPES.set(text, mediaType);
  }
  return mediaType;
}

function isXmlMediaType(mt: string): boolean {
  return mt === 'application/xml' || mt === 'text/xml';
}

function isJsonMediaType(mt: string): boolean {
  return mt === 'application/json' || mt === 'text/json';
}

/** The upstream's JSON formatter also reads text/html bodies (its help page lists a text/html request sample). */
function isJsonRequestMediaType(mt: string): boolean {
  return isJsonMediaType(mt) || mt === 'text/html';
}

/** 32-bit FNV-1a, to derive stable per-pair values without randomness. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

function toLong(value: bigint | string | number, what: string): bigint {
  let result: bigint;
  if (typeof value === 'bigint') result = value;
  else if (typeof value === 'number' && Number.isSafeInteger(value)) result = BigInt(value);
  else if (typeof value === 'string' && /^-?\d+$/.test(value)) result = BigInt(value);
  else throw new TypeError(`${what} must be an integer (bigint, safe number or decimal string), got ${String(value)}`);
  if (result < -(2n ** 63n) || result >= 2n ** 63n) throw new RangeError(`${what} is outside the .NET long range`);
  return result;
}

/**
 * Picks the response formatter like Web API's DefaultContentNegotiator: the Accept entry with the
 * highest quality wins, a literal match beats `type/*` which beats `*\/*`, ties go to the JSON
 * formatter (registered first). Without a usable Accept header Web API falls back to the request's
 * media type, so an XML request with no Accept header gets XML back.
 */
export function negotiateResponse(accept: string | undefined, requestMediaType: string): Negotiated {
  // Clients send the same few Accept headers on every call: the answer for a pair of header texts never changes.
  const memoKey = `${accept ?? ''}\u0000${requestMediaType}`;
  const known = NEGOTIATED.get(memoKey);
  if (known !== undefined) return known;
  const negotiated = negotiate(accept, requestMediaType);
  if (NEGOTIATED.size < MAX_MEMO) NEGOTIATED.set(memoKey, negotiated);
  return negotiated;
}

const NEGOTIATED = new Map<string, Negotiated>();
const MEDIA_TYPES = new Map<string, string>();
const MAX_MEMO = 256;

function negotiate(accept: string | undefined, requestMediaType: string): Negotiated {
  const formatters: Array<{ format: 'json' | 'xml'; types: string[] }> = [
    // The upstream also registered text/html on its JSON formatter (its help page shows a text/html sample).
    { format: 'json', types: ['application/json', 'text/json', 'text/html'] },
    { format: 'xml', types: ['application/xml', 'text/xml'] },
  ];
  let best: { n: Negotiated; q: number; rank: number; order: number } | undefined;
  for (const part of (accept ?? '').split(',')) {
    const [range, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (!range) continue;
    const qParam = params.find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (!(q > 0)) continue;
    const [type, subtype] = range.split('/');
    formatters.forEach((f, order) => {
      for (const mt of f.types) {
        const [mtType, mtSub] = mt.split('/');
        let rank = 0;
        if (type === '*' && subtype === '*') rank = 1;
        else if (type === mtType && subtype === '*') rank = 2;
        else if (type === mtType && subtype === mtSub) rank = 3;
        if (rank === 0) continue;
        const contentType =
          f.format === 'json'
            ? JSON_CONTENT_TYPE
            : rank === 3 && mt === 'text/xml'
              ? 'text/xml; charset=utf-8'
              : XML_CONTENT_TYPE;
        const better =
          !best ||
          q > best.q ||
          (q === best.q && rank > best.rank) ||
          (q === best.q && rank === best.rank && order < best.order);
        if (better) best = { n: { format: f.format, contentType }, q, rank, order };
        break;
      }
    });
  }
  if (best) return best.n;
  if (isXmlMediaType(requestMediaType)) {
    return {
      format: 'xml',
      contentType: requestMediaType === 'text/xml' ? 'text/xml; charset=utf-8' : XML_CONTENT_TYPE,
    };
  }
  return { format: 'json', contentType: JSON_CONTENT_TYPE };
}

class BodyTooLargeError extends Error {}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLargeError());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * Cancels one call's waits when its client goes away or the simulator stops. A wait is a timer with a callback,
 * not an AbortSignal: with a latency set every call waits, and a signal per call was a measurable share of the
 * simulator's CPU.
 */
class CallCancel {
  private cancelled = false;
  private onCancel: (() => void) | null = null;

  get aborted(): boolean {
    return this.cancelled;
  }

  /** Calls `fn` on cancel; one at a time (null removes it). A timer and a callback cost less than an AbortSignal. */
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

/** Resolves false instead of throwing when the request went away while waiting. */
function sleep(ms: number, cancel: CallCancel): Promise<boolean> {
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
 * The simulated upstream. Create, `start()`, point the client at the returned base URL, `stop()`.
 * All state lives in memory and is per instance.
 */
export class UpstreamSimulator {
  /** Every IntegrationStart request received since start or the last `reset()`, in arrival order (cleared in place). */
  readonly calls: SimulatorCall[] = [];

  private server: http.Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly pending = new Set<CallCancel>();
  private baseUrl: string | undefined;

  private readonly clock: () => bigint;
  private readonly offsetMinutes: number;
  private latencyMs: number;
  private readonly states = new Map<string, PairState>();
  private readonly queues = new Map<string, StoredAnswer[]>();
  private readonly wildcard: StoredAnswer[] = [];
  private readonly inFlightCounts = new Map<string, number>();
  private readonly maxInFlightCounts = new Map<string, number>();
  private auth: SimulatorAuthConfig = { mode: 'none' };
  private readonly tokens = new Map<string, bigint>();
  private tokenRequestCount = 0;

  /**
   * @throws RangeError when `timeZoneOffset` is not `±HH:MM` within ±14:00, or `latencyMs` is negative.
   */
  constructor(private readonly options: UpstreamSimulatorOptions = {}) {
    this.clock = options.clock ?? createDefaultClock();
    this.offsetMinutes = parseOffsetMinutes(options.timeZoneOffset ?? '+00:00');
    this.latencyMs = options.latencyMs ?? 0;
    if (!(this.latencyMs >= 0)) throw new RangeError('latencyMs must be >= 0');
  }

  // ---- lifecycle --------------------------------------------------------------------------

  /**
   * Starts listening.
   * @param port TCP port; 0 (default) picks a free one.
   * @param host interface to bind; default `127.0.0.1`.
   * @returns the base URL, e.g. `http://127.0.0.1:41234` (no trailing slash; a wildcard host is reported as 127.0.0.1).
   * @throws Error when already started, or the listen error (e.g. EADDRINUSE).
   */
  async start(port = 0, host = '127.0.0.1'): Promise<string> {
    if (this.server) throw new Error('UpstreamSimulator is already started');
    const server = http.createServer((req, res) => {
      this.onRequest(req, res).catch((err: unknown) => {
        if (!res.headersSent)
          this.sendJson(res, 500, { Message: 'An error has occurred.', MessageDetail: String(err) });
        else res.destroy();
      });
    });
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // Node's default accept backlog (511) overflowed when three replicas of the bench opened 600 connections at
      // once (the kernel's TcpExtListenOverflows counted 70), dropping SYNs; an upstream's web server queues more.
      server.listen({ port, host, backlog: 4096 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    const { port: actual } = server.address() as AddressInfo;
    const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
    this.baseUrl = `http://${shownHost}:${actual}`;
    return this.baseUrl;
  }

  /** Base URL once started. @throws Error before `start()`. */
  get url(): string {
    if (!this.baseUrl) throw new Error('UpstreamSimulator is not started');
    return this.baseUrl;
  }

  /**
   * Stops listening and closes every connection at once, keep-alive and hung ones included, and
   * cancels pending delays. Resolves when the server is closed; a no-op when not started.
   */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.baseUrl = undefined;
    for (const call of this.pending) call.cancel();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
      for (const socket of this.sockets) socket.destroy();
    });
  }

  /**
   * Back to the constructed state: calls, pair states, scripts, tokens, token count, latency and auth
   * (`none`). Requests still in flight stay counted; `maxInFlight` restarts from their count.
   */
  reset(): void {
    this.calls.length = 0;
    this.states.clear();
    this.queues.clear();
    this.wildcard.length = 0;
    this.tokens.clear();
    this.tokenRequestCount = 0;
    this.latencyMs = this.options.latencyMs ?? 0;
    this.auth = { mode: 'none' };
    this.maxInFlightCounts.clear();
    for (const [k, n] of this.inFlightCounts) if (n > 0) this.maxInFlightCounts.set(k, n);
  }

  // ---- scripting & configuration ----------------------------------------------------------

  /**
   * Queues answers for the next calls of one pair, or of any pair with `'*'`. A call takes from its
   * pair's queue first, then from `'*'`, then gets the default generated answer.
   * @throws TypeError for a malformed answer; Error when `bodyFromVector` cannot be read.
   */
  script(key: SimulatorKey | '*', ...answers: ScriptedAnswer[]): void {
    const stored = answers.map((a) => this.prepareAnswer(a));
    if (key === '*') {
      this.wildcard.push(...stored);
      return;
    }
    const k = keyOf(key.sourceSystemId, key.integrationName);
    const queue = this.queues.get(k) ?? [];
    queue.push(...stored);
    this.queues.set(k, queue);
  }

  /** Sets the delay applied before every IntegrationStart call is processed, ms. @throws RangeError when negative. */
  setLatency(ms: number): void {
    if (!(ms >= 0)) throw new RangeError('latency must be >= 0 ms');
    this.latencyMs = ms;
  }

  /**
   * Sets where the next generated answer for a pair starts (see {@link SeedOptions}). Seeding forgets
   * the pair's previous watermark, so it may deliberately move it backwards.
   * @throws TypeError/RangeError for values that are not .NET longs or dates.
   */
  seed(key: SimulatorKey, options: SeedOptions): void {
    // Everything is validated before anything changes, so a bad seed leaves the pair as it was.
    const pk =
      options.maxSyncDateMaxPKId === undefined ? undefined : toLong(options.maxSyncDateMaxPKId, 'maxSyncDateMaxPKId');
    const ticks = options.maxSyncDateTime === undefined ? undefined : parseTicks(options.maxSyncDateTime);
    const sourceId = options.sourceId === undefined ? undefined : toLong(options.sourceId, 'sourceId');
    if (options.firstRun !== undefined && typeof options.firstRun !== 'boolean')
      throw new TypeError('firstRun must be a boolean');
    const st = this.stateFor(key.sourceSystemId, key.integrationName);
    if (pk !== undefined) {
      st.nextPk = pk;
      st.lastPk = null;
    }
    if (ticks !== undefined) {
      st.nextSyncTicks = ticks;
      st.lastSyncTicks = null;
    }
    if (sourceId !== undefined) st.sourceId = sourceId;
    if (options.firstRun !== undefined) st.firstRunPending = options.firstRun;
  }

  /**
   * Sets the auth IntegrationStart demands. Calls without valid credentials get 401 with
   * `WWW-Authenticate`. Changing the config drops issued tokens.
   * @throws TypeError when the mode's credentials are missing.
   */
  configureAuth(config: SimulatorAuthConfig): void {
    const need = (names: Array<keyof SimulatorAuthConfig>) => {
      for (const n of names)
        if (typeof config[n] !== 'string') throw new TypeError(`auth mode ${config.mode} needs ${n}`);
    };
    if (config.mode === 'bearer') need(['token']);
    else if (config.mode === 'basic') need(['username', 'password']);
    else if (config.mode === 'client_credentials') need(['clientId', 'clientSecret']);
    else if (config.mode !== 'none') throw new TypeError(`unknown auth mode ${String(config.mode)}`);
    if (config.tokenTtlSeconds !== undefined && !(config.tokenTtlSeconds >= 0))
      throw new TypeError('tokenTtlSeconds must be >= 0');
    this.auth = { ...config };
    this.tokens.clear();
  }

  /** Invalidates every issued token: the next call using one gets 401. */
  expireTokens(): void {
    this.tokens.clear();
  }

  // ---- observability ----------------------------------------------------------------------

  /** Number of token endpoint requests (successful or not) since start or `reset()`. */
  get tokenRequests(): number {
    return this.tokenRequestCount;
  }

  /** Calls currently being answered for a pair (from body read to response end or connection close). */
  inFlight(key: SimulatorKey): number {
    return this.inFlightCounts.get(keyOf(key.sourceSystemId, key.integrationName)) ?? 0;
  }

  /** Highest `inFlight` seen for a pair since start or `reset()`. */
  maxInFlight(key: SimulatorKey): number {
    return this.maxInFlightCounts.get(keyOf(key.sourceSystemId, key.integrationName)) ?? 0;
  }

  /** Calls received for a pair (by deserialised key), or all IntegrationStart calls without a key. */
  callCount(key?: SimulatorKey): number {
    if (!key) return this.calls.length;
    const k = keyOf(key.sourceSystemId, key.integrationName);
    return this.calls.filter(
      (c) =>
        c.integrationName !== null && c.sourceSystemId !== null && keyOf(c.sourceSystemId, c.integrationName) === k,
    ).length;
  }

  // ---- internals --------------------------------------------------------------------------

  private nowTicks(): bigint {
    return this.clock() / NS_PER_TICK;
  }

  private formatDate(ticks: bigint): string {
    return formatTicks(ticks, this.offsetMinutes, this.options.trimFractionZeros ?? false);
  }

  private stateFor(sourceSystemId: number, integrationName: string): PairState {
    const k = keyOf(sourceSystemId, integrationName);
    let st = this.states.get(k);
    if (!st) {
      st = {
        sourceSystemId,
        integrationName,
        lastPk: null,
        nextPk: null,
        lastSyncTicks: null,
        nextSyncTicks: null,
        sourceId: BigInt(sourceSystemId) * 1_000_000n + BigInt(fnv1a(integrationName.toUpperCase()) % 1_000_000),
        runs: 0,
        firstRunPending: this.options.firstCallReturnsFirstRun ?? false,
      };
      this.states.set(k, st);
    }
    return st;
  }

  private prepareAnswer(answer: ScriptedAnswer): StoredAnswer {
    validateAnswer(answer);
    const { bodyFromVector, ...rest } = answer;
    if (bodyFromVector === undefined) return { ...rest };
    const dir = path.resolve(process.cwd(), 'test/fixtures/upstream/responses');
    const file = path.resolve(dir, bodyFromVector);
    if (path.dirname(file) !== dir) throw new TypeError(`bodyFromVector must be a file name in ${dir}`);
    const body = readFileSync(file);
    return { ...rest, vectorBody: { body, contentType: file.endsWith('.xml') ? XML_CONTENT_TYPE : JSON_CONTENT_TYPE } };
  }

  private takeAnswer(k: string): StoredAnswer | undefined {
    const queue = this.queues.get(k);
    if (queue && queue.length > 0) return queue.shift();
    return this.wildcard.shift();
  }

  private generate(
    req: DeserializedRequest & { integrationName: string },
    receivedTicks: bigint,
    firstRun: boolean,
  ): IntegrationStatusDto {
    const st = this.stateFor(req.sourceSystemId, req.integrationName);
    if (firstRun || st.firstRunPending) {
      st.firstRunPending = false;
      return {
        IntegrationName: st.integrationName,
        SourceSystemId: st.sourceSystemId,
        LastRunStartDateTime: this.formatDate(receivedTicks),
        LastRunEndDateTime: null,
        ProcessStatusMeaning: 'Running',
        MaxSyncDateTime: null,
        MaxSyncDateMaxPKId: null,
        SourceId: null,
        SourceIdString: null,
        CustomDatabaseValues: null,
      };
    }
    const pk =
      st.nextPk ?? (st.lastPk === null ? (this.options.pkStart ?? 1000n) : st.lastPk + (this.options.pkStep ?? 1n));
    st.nextPk = null;
    st.lastPk = pk;
    const now = this.nowTicks();
    let sync = st.nextSyncTicks ?? now;
    st.nextSyncTicks = null;
    // Strictly increasing even when the clock stands still (two calls in one 100 ns tick) or steps back.
    if (st.lastSyncTicks !== null && sync <= st.lastSyncTicks) sync = st.lastSyncTicks + 1n;
    st.lastSyncTicks = sync;
    st.runs += 1;
    return {
      IntegrationName: st.integrationName,
      SourceSystemId: st.sourceSystemId,
      LastRunStartDateTime: this.formatDate(receivedTicks),
      LastRunEndDateTime: this.formatDate(now > receivedTicks ? now : receivedTicks),
      ProcessStatusMeaning: 'Complete',
      MaxSyncDateTime: this.formatDate(sync),
      MaxSyncDateMaxPKId: pk,
      SourceId: st.sourceId,
      SourceIdString: `SRC-${st.sourceSystemId}-${st.integrationName}`,
      CustomDatabaseValues: [
        ['RunNumber', String(st.runs)],
        ['Simulator', 'tidemark'],
      ],
    };
  }

  private sendJson(
    res: http.ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    const text = Buffer.from(JSON.stringify(body), 'utf8');
    res.writeHead(status, { 'Content-Type': JSON_CONTENT_TYPE, 'Content-Length': String(text.length), ...headers });
    res.end(text);
  }

  private async onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    // The usual request, spelled exactly as documented, skips URL parsing.
    if (req.url === INTEGRATION_START_PATH && req.method === 'POST') return this.onIntegrationStart(req, res);
    const url = new URL(req.url ?? '/', 'http://simulator');
    const route = url.pathname.replace(/\/+$/, '').toLowerCase();
    if (route === INTEGRATION_START_PATH.toLowerCase()) {
      if (req.method !== 'POST') {
        req.resume();
        return this.sendJson(
          res,
          405,
          { Message: `The requested resource does not support http method '${req.method}'.` },
          { Allow: 'POST' },
        );
      }
      return this.onIntegrationStart(req, res);
    }
    if (route === TOKEN_PATH.toLowerCase()) {
      if (req.method !== 'POST') {
        req.resume();
        return this.sendJson(
          res,
          405,
          { Message: `The requested resource does not support http method '${req.method}'.` },
          { Allow: 'POST' },
        );
      }
      return this.onToken(req, res);
    }
    if (route.startsWith('/__simulator/')) return this.onControl(route.slice('/__simulator/'.length), url, req, res);
    req.resume();
    this.sendJson(res, 404, { Message: `No HTTP resource was found that matches the request URI '${url.pathname}'.` });
  }

  private async onIntegrationStart(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const receivedAt = Date.now();
    const receivedTicks = this.nowTicks();
    const cancel = new CallCancel();
    this.pending.add(cancel);
    res.on('close', () => {
      // Only a request that went away mid-answer has waits to cancel.
      if (!res.writableFinished) cancel.cancel();
      this.pending.delete(cancel);
    });

    const requestMediaType = mediaTypeOf(req.headers['content-type']);
    const format: 'json' | 'xml' = isXmlMediaType(requestMediaType) ? 'xml' : 'json';
    let raw: Buffer;
    try {
      raw = await readBody(req);
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        return this.sendJson(res, 413, { Message: 'The request entity is too large.' }, { Connection: 'close' });
      }
      throw err;
    }
    const rawBody = raw.toString('utf8');

    let parsed: DeserializedRequest | undefined;
    let failure: { status: number; body: AspNetError } | undefined;
    if (!isXmlMediaType(requestMediaType) && !isJsonRequestMediaType(requestMediaType)) {
      failure = {
        status: 415,
        body: {
          Message: `The request entity's media type '${requestMediaType || 'application/octet-stream'}' is not supported for this resource.`,
        },
      };
    } else {
      try {
        parsed = format === 'xml' ? readXmlRequest(rawBody) : readJsonRequest(rawBody);
      } catch (err) {
        if (!(err instanceof RequestBodyError)) throw err;
        failure = {
          status: 400,
          body: { Message: 'The request is invalid.', ModelState: { [err.modelStateKey]: [err.message] } },
        };
      }
    }

    const call: SimulatorCall = {
      sourceSystemId: parsed ? parsed.sourceSystemId : null,
      integrationName: parsed ? parsed.integrationName : null,
      format,
      receivedAt,
      headers: { ...req.headers },
      rawBody,
    };
    this.calls.push(call);
    const limit = this.options.maxRecordedCalls ?? Infinity;
    // Trimmed in steps of a tenth of the limit: shifting the whole array on every call made recording O(N).
    if (this.calls.length > limit + Math.ceil(limit / 10)) this.calls.splice(0, this.calls.length - limit);

    const k =
      parsed && parsed.integrationName !== null ? keyOf(parsed.sourceSystemId, parsed.integrationName) : undefined;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      call.finishedAt = Date.now();
      if (k !== undefined) this.inFlightCounts.set(k, (this.inFlightCounts.get(k) ?? 1) - 1);
    };
    if (k !== undefined) {
      const n = (this.inFlightCounts.get(k) ?? 0) + 1;
      this.inFlightCounts.set(k, n);
      if (n > (this.maxInFlightCounts.get(k) ?? 0)) this.maxInFlightCounts.set(k, n);
    }
    const settle = () => {
      if (res.headersSent && call.status === undefined) call.status = res.statusCode;
      finish();
    };
    // Settled just before end(), not on 'finish', so no client can see the response complete while
    // the call still counts as in flight (tests assert "never two in flight" on that).
    const end = res.end.bind(res) as (...args: unknown[]) => http.ServerResponse;
    res.end = ((...args: unknown[]) => {
      call.status ??= res.statusCode;
      finish();
      return end(...args);
    }) as typeof res.end;
    res.on('close', settle);

    if (!(await sleep(this.latencyMs, cancel))) return;

    const denial = this.checkAuth(req);
    if (denial)
      return this.sendJson(
        res,
        401,
        { Message: 'Authorization has been denied for this request.' },
        { 'WWW-Authenticate': denial },
      );
    if (failure) return this.sendJson(res, failure.status, failure.body);

    const request = parsed!;
    const modelState: Record<string, string[]> = {};
    if (request.integrationName === null || request.integrationName.trim() === '') {
      modelState['request.IntegrationName'] = ['The IntegrationName field is required.'];
    }
    if (request.sourceSystemId <= 0) {
      modelState['request.SourceSystemId'] = ['The field SourceSystemId must be between 1 and 2147483647.'];
    }
    if (Object.keys(modelState).length > 0) {
      return this.sendJson(res, 400, { Message: 'The request is invalid.', ModelState: modelState });
    }
    const valid = request as DeserializedRequest & { integrationName: string };

    const negotiated = negotiateResponse(req.headers.accept, requestMediaType);
    const answer = this.takeAnswer(k!);
    call.scripted = answer !== undefined;
    const status = answer?.status ?? 200;
    let body: Buffer;
    let contentType: string;
    if (answer?.body !== undefined) {
      body = Buffer.isBuffer(answer.body) ? answer.body : Buffer.from(answer.body, 'utf8');
      contentType = body.subarray(0, 64).toString('utf8').trimStart().startsWith('<')
        ? XML_CONTENT_TYPE
        : JSON_CONTENT_TYPE;
    } else if (answer?.vectorBody) {
      ({ body, contentType } = answer.vectorBody);
    } else if (status < 200 || status > 299) {
      const message = status >= 500 ? 'An error has occurred.' : (http.STATUS_CODES[status] ?? 'Error');
      body = Buffer.from(JSON.stringify({ Message: message }), 'utf8');
      contentType = JSON_CONTENT_TYPE;
    } else {
      // Generated only when the answer is actually sent, so a delay sees the latest state and a
      // hang (which never answers) leaves the watermark where it was.
      if (answer?.delayMs && !(await sleep(answer.delayMs, cancel))) return;
      if (answer?.hangForever) return;
      const dto = this.generate(valid, receivedTicks, answer?.firstRun ?? false);
      body = Buffer.from(negotiated.format === 'xml' ? writeDtoXml(dto) : writeDtoJson(dto), 'utf8');
      contentType = negotiated.contentType;
      return this.play(res, cancel, { ...answer, delayMs: 0 }, status, body, contentType, settle);
    }
    return this.play(res, cancel, answer ?? {}, status, body, contentType, settle);
  }

  private async play(
    res: http.ServerResponse,
    cancel: CallCancel,
    answer: StoredAnswer,
    status: number,
    body: Buffer,
    contentType: string,
    onReset: () => void,
  ): Promise<void> {
    if (answer.delayMs && !(await sleep(answer.delayMs, cancel))) return;
    if (answer.hangForever) return;

    const headers = new Map<string, [string, string]>();
    const put = (name: string, value: string) => headers.set(name.toLowerCase(), [name, value]);
    put('Content-Type', contentType);
    put('Content-Length', String(body.length));
    for (const [name, value] of Object.entries(answer.headers ?? {})) put(name, value);
    res.writeHead(status, [...headers.values()].flat());
    const limit = answer.resetAfterBytes;
    const trickling = answer.trickleBytesPerTick !== undefined || answer.trickleIntervalMs !== undefined;
    if (limit === undefined && !trickling) {
      // The usual answer: head and body in one write.
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
      // The response's own 'close' comes a loop turn later, possibly after the client saw the reset.
      onReset();
      return;
    }
    res.end();
  }

  /** Returns the WWW-Authenticate challenge when the request is not authorised, else undefined. */
  private checkAuth(req: http.IncomingMessage): string | undefined {
    const { mode } = this.auth;
    if (mode === 'none') return undefined;
    const header = req.headers.authorization ?? '';
    if (mode === 'basic') {
      const m = /^Basic\s+(\S+)\s*$/i.exec(header);
      const expected = `${this.auth.username}:${this.auth.password}`;
      if (m && Buffer.from(m[1], 'base64').toString('utf8') === expected) return undefined;
      return `Basic realm="${REALM}"`;
    }
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (m) {
      if (mode === 'bearer' && m[1] === this.auth.token) return undefined;
      if (mode === 'client_credentials') {
        const expires = this.tokens.get(m[1]);
        if (expires !== undefined && this.clock() < expires) return undefined;
      }
      return `Bearer realm="${REALM}", error="invalid_token"`;
    }
    return `Bearer realm="${REALM}"`;
  }

  private async onToken(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.tokenRequestCount += 1;
    const raw = (await readBody(req)).toString('utf8');
    const mt = mediaTypeOf(req.headers['content-type']);
    const fields = new Map<string, string>();
    if (mt === 'application/x-www-form-urlencoded') {
      for (const [name, value] of new URLSearchParams(raw)) fields.set(name, value);
    } else if (isJsonMediaType(mt)) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch {
        return this.sendJson(res, 400, { error: 'invalid_request', error_description: 'The body is not valid JSON.' });
      }
      if (typeof parsed !== 'object' || parsed === null) {
        return this.sendJson(res, 400, {
          error: 'invalid_request',
          error_description: 'The body must be a JSON object.',
        });
      }
      for (const [name, value] of Object.entries(parsed)) if (typeof value === 'string') fields.set(name, value);
    } else {
      return this.sendJson(res, 400, {
        error: 'invalid_request',
        error_description: `Unsupported content type '${mt}'.`,
      });
    }
    // RFC 6749 2.3.1 also allows the client to authenticate with HTTP Basic.
    const basic = /^Basic\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (basic && !fields.has('client_id')) {
      const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon >= 0) {
        fields.set('client_id', decodeURIComponent(decoded.slice(0, colon)));
        fields.set('client_secret', decodeURIComponent(decoded.slice(colon + 1)));
      }
    }
    const noStore = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };
    const grant = fields.get('grant_type');
    if (grant !== undefined && grant !== 'client_credentials') {
      return this.sendJson(res, 400, { error: 'unsupported_grant_type' }, noStore);
    }
    if (this.auth.mode !== 'client_credentials') {
      return this.sendJson(res, 400, { error: 'unauthorized_client' }, noStore);
    }
    if (fields.get('client_id') !== this.auth.clientId || fields.get('client_secret') !== this.auth.clientSecret) {
      return this.sendJson(res, 400, { error: 'invalid_client' }, noStore);
    }
    const ttl = this.auth.tokenTtlSeconds ?? 3600;
    const token = `sim-${randomBytes(18).toString('base64url')}`;
    this.tokens.set(token, this.clock() + BigInt(Math.round(ttl * 1e9)));
    const answer: Record<string, unknown> = {
      access_token: this.auth.prefixBearer ? `Bearer ${token}` : token,
      token_type: 'bearer',
      expires_in: ttl,
    };
    const scope = fields.get('scope');
    if (scope !== undefined) answer.scope = scope;
    this.sendJson(res, 200, answer, noStore);
  }

  private async onControl(
    action: string,
    url: URL,
    req: http.IncomingMessage,
    res: http.ServerResponse,
  ): Promise<void> {
    const raw = (await readBody(req)).toString('utf8');
    let body: Record<string, unknown> = {};
    if (raw.trim() !== '') {
      try {
        const parsed: unknown = JSON.parse(raw);
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
          throw new TypeError('not an object');
        body = parsed as Record<string, unknown>;
      } catch {
        return this.sendJson(res, 400, { Message: 'The control body must be a JSON object.' });
      }
    }
    const keyFrom = (value: unknown): SimulatorKey => {
      const v = value as Partial<SimulatorKey> | undefined;
      if (!v || typeof v.sourceSystemId !== 'number' || typeof v.integrationName !== 'string') {
        throw new TypeError('key must be {"sourceSystemId": number, "integrationName": string}');
      }
      return { sourceSystemId: v.sourceSystemId, integrationName: v.integrationName };
    };
    try {
      if (req.method === 'POST' && action === 'script') {
        if (!Array.isArray(body.answers)) throw new TypeError('answers must be an array');
        const answers = (body.answers as Array<ScriptedAnswer & { bodyBase64?: string }>).map(({ bodyBase64, ...a }) =>
          bodyBase64 !== undefined ? { ...a, body: Buffer.from(bodyBase64, 'base64') } : a,
        );
        this.script(body.key === undefined || body.key === '*' ? '*' : keyFrom(body.key), ...answers);
        return this.sendJson(res, 200, { queued: answers.length });
      }
      if (req.method === 'POST' && action === 'latency') {
        this.setLatency(body.ms as number);
        return this.sendJson(res, 200, { ms: this.latencyMs });
      }
      if (req.method === 'GET' && action === 'calls') return this.sendJson(res, 200, this.calls);
      if (req.method === 'POST' && action === 'reset') {
        this.reset();
        return this.sendJson(res, 200, { reset: true });
      }
      if (req.method === 'POST' && action === 'auth') {
        this.configureAuth(body as unknown as SimulatorAuthConfig);
        return this.sendJson(res, 200, { mode: this.auth.mode });
      }
      if (req.method === 'POST' && action === 'expire-tokens') {
        this.expireTokens();
        return this.sendJson(res, 200, { expired: true });
      }
      if (req.method === 'POST' && action === 'seed') {
        const { key, ...options } = body;
        this.seed(keyFrom(key), options);
        return this.sendJson(res, 200, { seeded: true });
      }
      if (req.method === 'GET' && action === 'stats') {
        const id = url.searchParams.get('sourceSystemId');
        const name = url.searchParams.get('integrationName');
        const key = id !== null && name !== null ? { sourceSystemId: Number(id), integrationName: name } : undefined;
        return this.sendJson(res, 200, {
          callCount: this.callCount(key),
          inFlight: key ? this.inFlight(key) : null,
          maxInFlight: key ? this.maxInFlight(key) : null,
          tokenRequests: this.tokenRequests,
        });
      }
    } catch (err) {
      return this.sendJson(res, 400, { Message: (err as Error).message });
    }
    this.sendJson(res, 404, { Message: `Unknown simulator control ${req.method} /__simulator/${action}` });
  }
}

/**
 * A real HTTP server that behaves like the upstream ASP.NET Web API endpoint
 * `POST api/integration/IntegrationStatus/IntegrationStart` (see test/fixtures/upstream/README.md),
 * plus an OAuth2 token endpoint, scripting for fault tests, and observability of what clients sent.
 * Built on `node:http` alone so that what a client sees on the wire (headers, slow bodies, resets)
 * is exactly what a test asked for.
 *
 * This file holds the lifecycle, the public API and one IntegrationStart call from request to
 * answer; routing.ts reads and routes HTTP, scripting.ts plays scripted answers, pair-states.ts
 * generates the DTOs that dto-writer.ts writes, auth.ts checks credentials, control.ts is the
 * HTTP control API.
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { SimulatorAuth, type SimulatorAuthConfig, type SimulatorTokenRequest } from './auth';
import { handleControl } from './control';
import { writeDtoJson, writeDtoXml } from './dto-writer';
import { createDefaultClock, parseOffsetMinutes } from './net-time';
import { PairStates, type SeedOptions, type SimulatorKey, keyOf } from './pair-states';
import {
  type AspNetError,
  type DeserializedRequest,
  RequestBodyError,
  readJsonRequest,
  readXmlRequest,
} from './request-reader';
import {
  BodyTooLargeError,
  JSON_CONTENT_TYPE,
  XML_CONTENT_TYPE,
  isJsonRequestMediaType,
  isXmlMediaType,
  mediaTypeOf,
  negotiateResponse,
  readBody,
  routeRequest,
  sendJson,
} from './routing';
import {
  AnswerScript,
  CallCancel,
  type Playback,
  type ScriptedAnswer,
  type StoredAnswer,
  playAnswer,
  sleep,
} from './scripting';

export type { SimulatorAuthConfig, SimulatorTokenRequest } from './auth';
export type { SeedOptions, SimulatorKey } from './pair-states';
export { INTEGRATION_START_PATH, TOKEN_PATH, TOKEN_PATHS, negotiateResponse } from './routing';
export type { ScriptedAnswer } from './scripting';

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

/** A request that deserialised into a pair the call can be counted and answered for. */
type ValidRequest = DeserializedRequest & { integrationName: string };

/** What the request body turned out to be: a request, or the error answer Web API gives before the action runs. */
type ReadRequest = { parsed: DeserializedRequest; failure?: never } | { parsed?: never; failure: RequestFailure };

interface RequestFailure {
  status: number;
  body: AspNetError;
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

  private latencyMs: number;
  private readonly pairs: PairStates;
  private readonly answers = new AnswerScript();
  private readonly auth: SimulatorAuth;
  private readonly inFlightCounts = new Map<string, number>();
  private readonly maxInFlightCounts = new Map<string, number>();

  /**
   * @throws RangeError when `timeZoneOffset` is not `±HH:MM` within ±14:00, or `latencyMs` is negative.
   */
  constructor(private readonly options: UpstreamSimulatorOptions = {}) {
    const clock = options.clock ?? createDefaultClock();
    this.pairs = new PairStates({
      clock,
      offsetMinutes: parseOffsetMinutes(options.timeZoneOffset ?? '+00:00'),
      trimFractionZeros: options.trimFractionZeros ?? false,
      firstCallReturnsFirstRun: options.firstCallReturnsFirstRun ?? false,
      pkStart: options.pkStart ?? 1000n,
      pkStep: options.pkStep ?? 1n,
    });
    this.auth = new SimulatorAuth(clock);
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
    const routes = {
      integrationStart: (req: http.IncomingMessage, res: http.ServerResponse) => this.onIntegrationStart(req, res),
      token: (req: http.IncomingMessage, res: http.ServerResponse) => this.auth.handleTokenRequest(req, res),
      control: (action: string, url: URL, req: http.IncomingMessage, res: http.ServerResponse) =>
        handleControl(this, action, url, req, res),
    };
    const server = http.createServer((req, res) => {
      routeRequest(req, res, routes).catch((err: unknown) => {
        if (!res.headersSent) sendJson(res, 500, { Message: 'An error has occurred.', MessageDetail: String(err) });
        else res.destroy();
      });
    });
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // Node's default accept backlog (511) overflows when several clients open hundreds of connections at once,
      // and the kernel then drops SYNs; an upstream's web server queues more.
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
    this.pairs.clear();
    this.answers.clear();
    this.auth.reset();
    this.latencyMs = this.options.latencyMs ?? 0;
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
    this.answers.add(key === '*' ? '*' : keyOf(key.sourceSystemId, key.integrationName), answers);
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
    this.pairs.seed(key, options);
  }

  /**
   * Sets the auth IntegrationStart demands. Calls without valid credentials get 401 with
   * `WWW-Authenticate`. Changing the config drops issued tokens.
   * @throws TypeError when the mode's credentials are missing.
   */
  configureAuth(config: SimulatorAuthConfig): void {
    this.auth.configure(config);
  }

  /** Invalidates every issued token: the next call using one gets 401. */
  expireTokens(): void {
    this.auth.expireTokens();
  }

  // ---- observability ----------------------------------------------------------------------

  /** Number of token endpoint requests (successful or not) since start or `reset()`. */
  get tokenRequests(): number {
    return this.auth.tokenRequests;
  }

  /** Every token endpoint request that could be read (path, media type, fields), oldest first. */
  get tokenRequestLog(): readonly SimulatorTokenRequest[] {
    return this.auth.tokenRequestLog;
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

  // ---- one IntegrationStart call ----------------------------------------------------------

  private async onIntegrationStart(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const receivedAt = Date.now();
    const receivedTicks = this.pairs.nowTicks();
    const cancel = new CallCancel();
    const recorded = this.watchClose(res, cancel);

    const requestMediaType = mediaTypeOf(req.headers['content-type']);
    const format: 'json' | 'xml' = isXmlMediaType(requestMediaType) ? 'xml' : 'json';
    let raw: Buffer;
    try {
      raw = await readBody(req);
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        return sendJson(res, 413, { Message: 'The request entity is too large.' }, { Connection: 'close' });
      }
      throw err;
    }
    const rawBody = raw.toString('utf8');
    const { parsed, failure } = readRequest(rawBody, requestMediaType, format);
    const call: SimulatorCall = {
      sourceSystemId: parsed ? parsed.sourceSystemId : null,
      integrationName: parsed ? parsed.integrationName : null,
      format,
      receivedAt,
      headers: { ...req.headers },
      rawBody,
    };
    const k =
      parsed && parsed.integrationName !== null ? keyOf(parsed.sourceSystemId, parsed.integrationName) : undefined;
    const settle = (recorded.settle = this.track(call, k, res));

    if (!(await sleep(this.latencyMs, cancel))) return;
    const denial = this.auth.challenge(req);
    if (denial) {
      const body = { Message: 'Authorization has been denied for this request.' };
      return sendJson(res, 401, body, { 'WWW-Authenticate': denial });
    }
    if (failure) return sendJson(res, failure.status, failure.body);
    const modelState = modelStateOf(parsed);
    if (modelState !== null) return sendJson(res, 400, { Message: 'The request is invalid.', ModelState: modelState });

    const answer = this.answers.take(k!);
    call.scripted = answer !== undefined;
    const status = answer?.status ?? 200;
    let playback = presetPlayback(answer, status);
    if (playback === null) {
      // Generated only when the answer is actually sent, so a delay sees the latest state and a
      // hang (which never answers) leaves the watermark where it was.
      if (answer?.delayMs && !(await sleep(answer.delayMs, cancel))) return;
      if (answer?.hangForever) return;
      const negotiated = negotiateResponse(req.headers.accept, requestMediaType);
      const dto = this.pairs.generate(parsed as ValidRequest, receivedTicks, answer?.firstRun ?? false, k);
      const body = negotiated.format === 'xml' ? writeDtoXml(dto) : writeDtoJson(dto);
      playback = { answer: { ...answer, delayMs: 0 }, status, body, contentType: negotiated.contentType };
    }
    return playAnswer(res, cancel, playback, settle);
  }

  /**
   * Keeps `cancel` pending until the response closes, then cancels the call's waits if it closed mid-answer.
   * @returns where the caller puts the call's settle step once the call is recorded (see track): one listener for
   *   both, as a call's response closes once
   */
  private watchClose(res: http.ServerResponse, cancel: CallCancel): { settle?: () => void } {
    this.pending.add(cancel);
    const recorded: { settle?: () => void } = {};
    res.on('close', () => {
      // Only a request that went away mid-answer has waits to cancel.
      if (!res.writableFinished) cancel.cancel();
      this.pending.delete(cancel);
      recorded.settle?.();
    });
    return recorded;
  }

  /**
   * Records a call and counts it in flight for its pair until its answer ends or its connection closes.
   * @returns the settle step, which the caller runs on the response's 'close', and a reset that ends the call
   *   before it
   */
  private track(call: SimulatorCall, k: string | undefined, res: http.ServerResponse): () => void {
    this.calls.push(call);
    const limit = this.options.maxRecordedCalls ?? Infinity;
    // Trimmed in steps of a tenth of the limit, so recording stays O(1) amortised.
    if (this.calls.length > limit + Math.ceil(limit / 10)) this.calls.splice(0, this.calls.length - limit);

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
    return settle;
  }
}

/**
 * The answer a script gives as it is: its own body, a vector's, or the error body Web API writes for a non-2xx
 * status. Null when the answer is a DTO, generated from the pair's state.
 */
function presetPlayback(answer: StoredAnswer | undefined, status: number): Playback | null {
  if (answer?.body !== undefined) {
    const body = Buffer.isBuffer(answer.body) ? answer.body : Buffer.from(answer.body, 'utf8');
    const looksXml = body.subarray(0, 64).toString('utf8').trimStart().startsWith('<');
    return { answer, status, body, contentType: looksXml ? XML_CONTENT_TYPE : JSON_CONTENT_TYPE };
  }
  if (answer?.vectorBody) return { answer, status, ...answer.vectorBody };
  if (status < 200 || status > 299) {
    const message = status >= 500 ? 'An error has occurred.' : (http.STATUS_CODES[status] ?? 'Error');
    const body = Buffer.from(JSON.stringify({ Message: message }), 'utf8');
    return { answer: answer ?? {}, status, body, contentType: JSON_CONTENT_TYPE };
  }
  return null;
}

/** Deserialises the body like Web API: 415 for a media type no formatter reads, 400 when the formatter fails. */
function readRequest(rawBody: string, requestMediaType: string, format: 'json' | 'xml'): ReadRequest {
  if (!isXmlMediaType(requestMediaType) && !isJsonRequestMediaType(requestMediaType)) {
    const shown = requestMediaType || 'application/octet-stream';
    return {
      failure: {
        status: 415,
        body: { Message: `The request entity's media type '${shown}' is not supported for this resource.` },
      },
    };
  }
  try {
    return { parsed: format === 'xml' ? readXmlRequest(rawBody) : readJsonRequest(rawBody) };
  } catch (err) {
    if (!(err instanceof RequestBodyError)) throw err;
    return {
      failure: {
        status: 400,
        body: { Message: 'The request is invalid.', ModelState: { [err.modelStateKey]: [err.message] } },
      },
    };
  }
}

/** The action's validation attributes ([Required], [Range(1, int.MaxValue)]); null when the request is valid. */
function modelStateOf(request: DeserializedRequest): Record<string, string[]> | null {
  if (request.sourceSystemId > 0 && request.integrationName !== null && request.integrationName.trim() !== '') {
    return null;
  }
  const modelState: Record<string, string[]> = {};
  if (request.integrationName === null || request.integrationName.trim() === '') {
    modelState['request.IntegrationName'] = ['The IntegrationName field is required.'];
  }
  if (request.sourceSystemId <= 0) {
    modelState['request.SourceSystemId'] = ['The field SourceSystemId must be between 1 and 2147483647.'];
  }
  return Object.keys(modelState).length > 0 ? modelState : null;
}

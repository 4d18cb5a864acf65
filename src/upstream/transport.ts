/**
 * One HTTP exchange with the upstream (or its token endpoint) through `@nestjs/axios`'s HttpService, whose axios
 * instance sends it with the adapter of `axios-adapter.ts`, and what its failures mean. Invariants of every exchange:
 * - the raw body bytes reach the caller: `responseType: 'arraybuffer'`, no request or response transforms, any
 *   status resolves (the client classifies statuses itself);
 * - redirects are not followed and no proxy (from the environment or elsewhere) is used;
 * - the body is read up to `maxBodyBytes` after decoding gzip, deflate or br, then reading stops; an answer in any
 *   other content coding, or in several, is refused as unreadable;
 * - an AbortSignal ends the exchange wherever it is (connecting, sending, waiting, reading a trickled body);
 * - the transport's own error never leaves as a `cause`: its request holds the Authorization header.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { HttpService } from '@nestjs/axios';
import type { AxiosError, AxiosRequestConfig, AxiosResponse, RawAxiosRequestHeaders } from 'axios';
import { upstreamAxiosAdapter } from './axios-adapter';
import type { CallStop } from './call-stop';
import { ACCEPT_ENCODING } from './content-codings';
import {
  UpstreamAbortedError,
  UpstreamBodyTooLargeError,
  UpstreamBodyUnreadableError,
  UpstreamConnectionError,
  UpstreamError,
  UpstreamTimeoutError,
  UpstreamUnexpectedError,
} from './errors';
import { ConnectDeadlineError, type UpstreamAgents, createUpstreamAgents } from './upstream-agents';

/** Where a request goes. */
export interface Target {
  /** Absolute URL, without credentials. */
  url: string;
  /** `host:port`, for messages. */
  hostPort: string;
  /** Whether it is https (the transport to use). */
  secure: boolean;
}

/** Sent with every request, so that the upstream's operators can tell who calls. */
export const USER_AGENT = 'tidemark';

/** What the caller learns about a request while it goes on. */
export interface ExchangeProgress {
  /** The request (head and body) was completely written to the socket. */
  requestSent: boolean;
  /** The response's status line and headers arrived. */
  responseStarted: boolean;
  /** Their status, once they arrived. */
  status?: number;
  /** Their Content-Encoding header as sent (before decoding), once they arrived. */
  contentEncoding?: string;
}

/** A complete answer: any status, headers with lower-case names, the body decoded (gzip, deflate, br). */
export interface ExchangeResponse {
  status: number;
  headers: AxiosResponse['headers'];
  body: Buffer;
}

/** One request to send. */
export interface ExchangeRequest {
  body: string;
  headers: RawAxiosRequestHeaders;
  /** Largest body accepted, bytes, after decoding. */
  maxBodyBytes: number;
}

/** What stops one exchange: the call's stop, and the exchange's own deadline when it comes first. */
export interface ExchangeStops {
  stop: CallStop;
  timeoutMs?: number;
  timeoutReason?: DeadlineReason;
}

/** The reason a deadline stops a request with. */
export class DeadlineReason {
  constructor(readonly timeoutMs: number) {}
}

/** The reason a call stops with when its caller cancels it. */
export class CallerAbortReason {}

/** Settings every exchange is made with; the HttpModule's axios instance has them as its defaults too. */
const EXCHANGE_SETTINGS = Object.freeze({
  adapter: upstreamAxiosAdapter,
  method: 'POST',
  responseType: 'arraybuffer',
  transformRequest: [],
  transformResponse: [],
  validateStatus: () => true,
  maxRedirects: 0,
  proxy: false,
  decompress: true,
  // Requests are a few hundred bytes; nothing near this is ever sent.
  maxBodyLength: 1_048_576,
} satisfies AxiosRequestConfig);

/**
 * The axios configuration of the upstream's HttpService: the exchange settings, the content codings offered and the
 * keep-alive agents.
 */
export function upstreamAxiosConfig(agents: UpstreamAgents): AxiosRequestConfig {
  return {
    ...EXCHANGE_SETTINGS,
    headers: { 'accept-encoding': ACCEPT_ENCODING },
    httpAgent: agents.httpAgent,
    httpsAgent: agents.httpsAgent,
  };
}

/**
 * Keeps the instance's defaults to what the exchanges use. axios merges the defaults into every request's
 * configuration, copying each object among them, and its own defaults hold three that no exchange needs: the header
 * groups by method (every exchange names its own Content-Type, Accept and User-Agent), `transitional` (absent, axios
 * reads its built-in values, the ones it held) and `env` (read only by axios's form-data transforms, which exchanges
 * don't run). Without them, axios has nothing to copy for them on every request.
 */
function keepLeanDefaults(instance: HttpService['axiosRef']): void {
  const defaults = instance.defaults;
  defaults.headers = { 'accept-encoding': ACCEPT_ENCODING } as unknown as typeof defaults.headers;
  delete defaults.transitional;
  delete defaults.env;
}

/** An HttpService for a client built without Nest: the axios instance UpstreamModule's HttpModule would give it. */
export function createUpstreamHttpService(connectTimeoutMs: number): HttpService {
  // An HttpService made without an instance wraps axios itself, whose `create` makes the instance; axios is then
  // loaded once, as @nestjs/axios loads it.
  const axiosStatic = new HttpService().axiosRef;
  return new HttpService(axiosStatic.create(upstreamAxiosConfig(createUpstreamAgents(connectTimeoutMs))));
}

/** Error codes meaning "the network or the peer failed", as opposed to a bad answer. */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTDOWN',
  'ETIMEDOUT',
  'EPIPE',
  'ECONNABORTED',
  'EADDRNOTAVAIL',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'ERR_SOCKET_CLOSED',
  'ERR_STREAM_PREMATURE_CLOSE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'EPROTO',
]);
/** Codes of zlib (gzip, deflate) and brotli decoding errors. */
const DECODE_CODE = /^(Z_[A-Z_]+|ERR__ERROR_[A-Z0-9_]+|ZSTD_[A-Za-z_]+)$/;
/** How axios words the rejection of a body over `maxContentLength` (code ERR_BAD_RESPONSE). */
const BODY_LIMIT_MESSAGE = /^maxContentLength size of \d+ exceeded$/;

/** The error as an AxiosError (marked by its public `isAxiosError` flag), else null. */
function axiosErrorOf(error: unknown): AxiosError | null {
  return typeof error === 'object' && error !== null && (error as Partial<AxiosError>).isAxiosError === true
    ? (error as AxiosError)
    : null;
}

/** Whether axios ended a request because its AbortSignal aborted. */
function isCanceled(error: unknown): boolean {
  return axiosErrorOf(error)?.code === 'ERR_CANCELED';
}

/** Whether axios stopped reading a body because it went over `maxContentLength`. */
export function isBodyLimitError(error: unknown): boolean {
  const axiosError = axiosErrorOf(error);
  return axiosError?.code === 'ERR_BAD_RESPONSE' && BODY_LIMIT_MESSAGE.test(axiosError.message);
}

/** Whether a request was stopped on purpose: its signal aborted (a deadline, the caller) or its body was too long. */
export function isStoppedOnPurpose(error: unknown): boolean {
  return isCanceled(error) || isBodyLimitError(error);
}

/** The target of an absolute http(s) URL. */
export function targetOf(url: URL): Target {
  return { url: url.href, hostPort: hostPortOf(url), secure: url.protocol === 'https:' };
}

/** `host:port` of a URL, with the scheme's default port made explicit. */
export function hostPortOf(url: URL): string {
  return `${url.hostname}:${url.port || (url.protocol === 'https:' ? '443' : '80')}`;
}

/** The error for a request stopped for `reason` (a deadline or the caller). */
export function stopError(reason: unknown, target: string, progress: ExchangeProgress): UpstreamError {
  if (reason instanceof DeadlineReason) {
    return new UpstreamTimeoutError({
      timeoutMs: reason.timeoutMs,
      target,
      requestSent: progress.requestSent,
      responseStarted: progress.responseStarted,
    });
  }
  return new UpstreamAbortedError(target, progress.requestSent);
}

/** Sends requests through the upstream's HttpService and maps what goes wrong to {@link UpstreamError}s. */
export class UpstreamTransport {
  constructor(
    readonly http: HttpService,
    /** For the message of a connection that did not come up in time. */
    private readonly connectTimeoutMs: number,
  ) {
    keepLeanDefaults(http.axiosRef);
  }

  /**
   * One POST. Resolves with any status; rejects with an UpstreamError for transport failures, the caller or a
   * deadline stopping it (`stops`), bodies over `maxBodyBytes` and bodies that cannot be decoded.
   */
  async exchange(
    target: Target,
    request: ExchangeRequest,
    stops: ExchangeStops,
    progress: ExchangeProgress,
  ): Promise<ExchangeResponse> {
    if (stops.stop.aborted) throw stopError(stops.stop.reason, target.url, progress);
    const controller = new AbortController();
    const stopListening = stops.stop.onAbort((reason) => controller.abort(reason));
    const timer =
      stops.timeoutMs === undefined
        ? undefined
        : setTimeout(() => controller.abort(stops.timeoutReason), stops.timeoutMs);
    try {
      // The instance's defaults hold the exchange settings; its adapter refuses a request without them.
      const response = await this.http.axiosRef.request<Buffer>({
        url: target.url,
        data: request.body,
        headers: request.headers,
        maxContentLength: request.maxBodyBytes,
        signal: controller.signal,
        transport: new ProgressTransport(target.secure ? https : http, progress),
      });
      refuseUnofferedEncoding(progress.contentEncoding, target.hostPort);
      return { status: response.status, headers: response.headers, body: response.data };
    } catch (error) {
      if (isCanceled(error) && controller.signal.aborted)
        throw stopError(controller.signal.reason, target.url, progress);
      throw this.failure(error, target.hostPort, request.maxBodyBytes, progress);
    } finally {
      clearTimeout(timer);
      stopListening();
    }
  }

  private failure(error: unknown, hostPort: string, maxBodyBytes: number, progress: ExchangeProgress): UpstreamError {
    if (error instanceof UpstreamError) return error;
    const axiosError = axiosErrorOf(error);
    if (axiosError === null) {
      return new UpstreamUnexpectedError(`call to upstream ${hostPort} failed: ${describe(error)}`);
    }
    if (axiosError.cause instanceof ConnectDeadlineError) {
      return new UpstreamConnectionError(
        hostPort,
        'ETIMEDOUT',
        `no connection within the connect timeout of ${this.connectTimeoutMs} ms`,
      );
    }
    if (isBodyLimitError(error)) return new UpstreamBodyTooLargeError(maxBodyBytes);
    const code = axiosError.code;
    if (code !== undefined && DECODE_CODE.test(code)) {
      return new UpstreamBodyUnreadableError(`upstream response from ${hostPort} could not be decoded (${code})`);
    }
    // The answer had begun and its connection ended before it was complete.
    const brokenOff = progress.responseStarted ? 'the connection closed before the answer was complete' : undefined;
    if (code === 'ERR_BAD_RESPONSE') return new UpstreamConnectionError(hostPort, 'ECONNRESET', brokenOff);
    if (code !== undefined && CONNECTION_CODES.has(code)) return new UpstreamConnectionError(hostPort, code, brokenOff);
    if (code?.startsWith('HPE_')) {
      return new UpstreamConnectionError(hostPort, code, 'the upstream sent a malformed HTTP response');
    }
    return new UpstreamUnexpectedError(
      `call to upstream ${hostPort} failed${code === undefined ? '' : ` (${code})`}: ${describe(axiosError)}`,
    );
  }
}

/**
 * The node:http(s) `request` axios calls for one exchange (its public `transport` option), reporting to `progress`
 * when the request has been written and when the answer's head arrived.
 */
class ProgressTransport {
  constructor(
    private readonly transport: typeof http | typeof https,
    private readonly progress: ExchangeProgress,
  ) {}

  request(options: http.RequestOptions, onResponse: (response: http.IncomingMessage) => void): http.ClientRequest {
    const progress = this.progress;
    const request = this.transport.request(options, (response) => {
      progress.responseStarted = true;
      progress.status = response.statusCode;
      const encoding = response.headers['content-encoding'];
      if (encoding !== undefined) progress.contentEncoding = encoding;
      onResponse(response);
    });
    request.once('finish', () => {
      progress.requestSent = true;
    });
    return request;
  }
}

/** The content codings the request offers (Accept-Encoding), which axios decodes; `identity` means none. */
const OFFERED_ENCODINGS: ReadonlySet<string> = new Set(['gzip', 'x-gzip', 'deflate', 'br', 'identity']);

/**
 * Refuses an answer in a content coding the request did not offer, or in several stacked ones: axios decodes one
 * offered coding and hands anything else over as raw bytes, which must never be read as the body's text.
 * @throws UpstreamBodyUnreadableError naming the coding
 */
function refuseUnofferedEncoding(header: string | undefined, hostPort: string): void {
  if (header === undefined) return;
  const codings = header
    .split(',')
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== '');
  if (codings.length === 0 || (codings.length === 1 && OFFERED_ENCODINGS.has(codings[0]))) return;
  const shown = JSON.stringify(header.length > 60 ? `${header.slice(0, 60)}…` : header);
  throw new UpstreamBodyUnreadableError(
    `upstream response from ${hostPort} has Content-Encoding ${shown}, which was not offered ` +
      `(Accept-Encoding: ${ACCEPT_ENCODING}, one coding at a time) and is not decoded`,
  );
}

function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.slice(0, 200) || 'unknown error';
}

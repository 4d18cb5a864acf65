/**
 * The only code that talks HTTP to the upstream: one `POST api/integration/IntegrationStatus/IntegrationStart`
 * per call (help page: /work/shared/seed/IntegrationStart-api-help.txt).
 */
import * as nodeHttp from 'node:http';
import * as nodeHttps from 'node:https';
import { performance } from 'node:perf_hooks';
import { HttpService } from '@nestjs/axios';
import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import type { AxiosResponse } from 'axios';
import { assertValidTimeZone } from './dotnet-date';
import {
  type AspNetErrorDetails,
  UpstreamAbortedError,
  UpstreamBodyTooLargeError,
  UpstreamBodyUnreadableError,
  UpstreamConnectionError,
  UpstreamError,
  UpstreamHttpStatusError,
  UpstreamTimeoutError,
  UpstreamUnexpectedError,
  attachHttpStatus,
} from './errors';
import { buildIntegrationStartRequest } from './integration-start.request';
import type { IntegrationKey, IntegrationStatus } from './integration-status';
import { assertSameIntegration, bodyExcerpt, parseAspNetError, parseIntegrationStatus } from './integration-status.parser';

/** Nest injection token of {@link UpstreamClientOptions}. */
export const UPSTREAM_CLIENT_OPTIONS = Symbol('UPSTREAM_CLIENT_OPTIONS');

/** Default for {@link UpstreamClientOptions.maxBodyBytes}: 1 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 1_048_576;

/** How the client authenticates to the upstream. */
export type UpstreamAuth =
  | { kind: 'none' }
  | { kind: 'bearer'; token: string }
  | { kind: 'basic'; username: string; password: string };

/** Configuration of {@link UpstreamClient}. */
export interface UpstreamClientOptions {
  /**
   * Base URL, e.g. `https://erp.example.com/gravitate`; the endpoint path is appended after
   * removing trailing slashes. `user:pass@` in it is never sent in the URL nor shown in messages;
   * it is used as Basic credentials when `auth` is `none`. No query string or fragment.
   */
  baseUrl: string;
  /** Request (and expected response) format. */
  format: 'json' | 'xml';
  /** Deadline for the whole call (connect, send, headers and the entire body), ms. */
  timeoutMs: number;
  /** Time zone for upstream date texts without an offset, e.g. `America/Chicago`. */
  defaultTimeZone: string;
  auth: UpstreamAuth;
  /** Largest response body accepted, bytes (after decompression). Default 1 MiB. */
  maxBodyBytes?: number;
}

/** The outcome of one successful IntegrationStart call. */
export interface IntegrationStartResult {
  status: IntegrationStatus;
  /** HTTP status of the answer (2xx). */
  httpStatus: number;
  /** Wall time of the call from just before sending to the parsed DTO, ms (rounded to 0.1 ms). */
  durationMs: number;
  /** The answer's Content-Type header, as sent. */
  contentType: string | null;
}

/** Per-call options of {@link UpstreamClient.integrationStart}. */
export interface IntegrationStartCallOptions {
  /** Cancels the call (e.g. on shutdown); the call then rejects with UpstreamAbortedError. */
  signal?: AbortSignal;
}

const ENDPOINT_PATH = '/api/integration/IntegrationStatus/IntegrationStart';

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

interface CallProgress {
  /** The request was completely handed to the OS ('finish' on the ClientRequest). */
  requestSent: boolean;
  /** Response headers arrived. */
  responseStarted: boolean;
}

/**
 * Calls IntegrationStart on the upstream and returns the parsed, identity-checked DTO.
 *
 * Every failure is an {@link UpstreamError}; messages and errors never contain the bearer token,
 * the Basic password or URL credentials, and never carry the axios error (which holds the
 * Authorization header) as `cause`.
 */
@Injectable()
export class UpstreamClient implements OnModuleDestroy {
  private readonly endpoint: string;
  /** `host:port` for messages. */
  private readonly hostPort: string;
  private readonly format: 'json' | 'xml';
  private readonly timeoutMs: number;
  private readonly maxBodyBytes: number;
  private readonly defaultTimeZone: string;
  private readonly authorization: string | null;
  /** Values to scrub from any message, longest first. */
  private readonly secrets: string[];
  private readonly httpAgent = new nodeHttp.Agent({ keepAlive: true });
  private readonly httpsAgent = new nodeHttps.Agent({ keepAlive: true });

  /**
   * @throws TypeError / RangeError on invalid options (a configuration error, raised at startup;
   *   the message never includes credentials).
   */
  constructor(
    private readonly httpService: HttpService,
    @Inject(UPSTREAM_CLIENT_OPTIONS) options: UpstreamClientOptions,
  ) {
    let url: URL;
    try {
      url = new URL(options.baseUrl);
    } catch {
      throw new TypeError('upstream baseUrl is not an absolute URL');
    }
    const rawUserInfo = [url.username, url.password];
    const urlUser = safeDecode(url.username);
    const urlPassword = safeDecode(url.password);
    url.username = '';
    url.password = '';
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TypeError(`upstream baseUrl must be http:// or https://, got ${url.protocol}`);
    }
    if (url.search !== '' || url.hash !== '') {
      throw new TypeError(`upstream baseUrl ${url.origin}${url.pathname} must not have a query string or fragment`);
    }
    this.endpoint = `${url.origin}${url.pathname.replace(/\/+$/, '')}${ENDPOINT_PATH}`;
    this.hostPort = `${url.hostname}:${url.port || (url.protocol === 'https:' ? '443' : '80')}`;

    if (options.format !== 'json' && options.format !== 'xml') {
      throw new TypeError(`upstream format must be "json" or "xml", got ${JSON.stringify(String(options.format))}`);
    }
    this.format = options.format;
    if (!(typeof options.timeoutMs === 'number' && Number.isFinite(options.timeoutMs) && options.timeoutMs > 0)) {
      throw new RangeError(`upstream timeoutMs must be a positive number of milliseconds, got ${String(options.timeoutMs)}`);
    }
    this.timeoutMs = options.timeoutMs;
    const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes <= 0) {
      throw new RangeError(`upstream maxBodyBytes must be a positive integer, got ${String(maxBodyBytes)}`);
    }
    this.maxBodyBytes = maxBodyBytes;
    assertValidTimeZone(options.defaultTimeZone);
    this.defaultTimeZone = options.defaultTimeZone;

    const secrets = [urlUser, urlPassword, ...rawUserInfo];
    const auth = options.auth ?? { kind: 'none' };
    if (auth.kind === 'bearer') {
      if (typeof auth.token !== 'string' || !/^[\x21-\x7e]+$/.test(auth.token)) {
        throw new TypeError('upstream bearer token must be non-empty visible ASCII (no spaces or line breaks)');
      }
      this.authorization = `Bearer ${auth.token}`;
      secrets.push(auth.token);
    } else if (auth.kind === 'basic') {
      this.authorization = basicAuthorization(auth.username, auth.password);
      secrets.push(auth.password, this.authorization.slice('Basic '.length));
    } else if (auth.kind === 'none') {
      // Userinfo in the URL is what curl and browsers send as Basic credentials; honour it, but
      // never in the URL itself (axios would log it in errors) and never in messages.
      this.authorization = urlUser !== '' || urlPassword !== '' ? basicAuthorization(urlUser, urlPassword) : null;
      if (this.authorization !== null) secrets.push(this.authorization.slice('Basic '.length));
    } else {
      const kind = JSON.stringify(String((auth as { kind?: unknown }).kind)).slice(0, 40);
      throw new TypeError(`upstream auth.kind ${kind} is not supported (supported: "none", "bearer", "basic")`);
    }
    // Values shorter than 4 characters are not scrubbed: replacing them everywhere would mangle
    // ordinary words in messages. Such a value is not a credential worth the name anyway.
    this.secrets = [...new Set(secrets.filter((s) => s.length >= 4))].sort((a, b) => b.length - a.length);
  }

  /**
   * POSTs IntegrationStart for `key`, parses the answer and checks it is about `key`.
   *
   * The whole call, body included, is bounded by `timeoutMs` (an AbortController, since an axios
   * `timeout` does not cover a body that trickles in). Redirects are not followed, environment
   * proxies are not used, axios never parses the body.
   *
   * @returns `{ status, httpStatus, durationMs, contentType }`.
   * @throws UpstreamTimeoutError (`timeout`) the deadline passed; says whether the request had been sent.
   * @throws UpstreamAbortedError (`aborted`) `options.signal` was aborted.
   * @throws UpstreamConnectionError (`connection`) refused, reset, DNS, TLS failures (host:port only).
   * @throws UpstreamBodyTooLargeError (`body_too_large`) more than `maxBodyBytes`.
   * @throws UpstreamHttpStatusError (`http_status`) non-2xx, with the ASP.NET error's Message,
   *   ExceptionType and ExceptionMessage when the body is one, else a 200-char excerpt.
   * @throws UpstreamBodyUnreadableError / UpstreamNotDtoError from the parser (with `httpStatus`).
   * @throws UpstreamIdentityMismatchError (`identity_mismatch`) the DTO is about another integration.
   * @throws UpstreamRequestError (`invalid_request`) the key cannot be sent (see the request builder).
   * @throws UpstreamUnexpectedError (`unexpected`) anything else.
   */
  async integrationStart(key: IntegrationKey, options: IntegrationStartCallOptions = {}): Promise<IntegrationStartResult> {
    const started = performance.now();
    const external = options.signal;
    const controller = new AbortController();
    const progress: CallProgress = { requestSent: false, responseStarted: false };
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.timeoutMs);
    const onExternalAbort = () => controller.abort();
    external?.addEventListener('abort', onExternalAbort, { once: true });

    try {
      if (external?.aborted) throw new UpstreamAbortedError(this.endpoint, false);
      const request = buildIntegrationStartRequest(this.format, key);

      let response: AxiosResponse<unknown>;
      try {
        response = await this.httpService.axiosRef.request<unknown>({
          method: 'POST',
          url: this.endpoint,
          data: request.body,
          headers: {
            'Content-Type': request.contentType,
            Accept: request.accept,
            ...(this.authorization === null ? {} : { Authorization: this.authorization }),
          },
          responseType: 'arraybuffer',
          transformRequest: [(data: unknown) => data],
          transformResponse: [(data: unknown) => data],
          validateStatus: () => true,
          maxContentLength: this.maxBodyBytes,
          maxBodyLength: this.maxBodyBytes,
          maxRedirects: 0,
          proxy: false,
          timeout: 0,
          signal: controller.signal,
          httpAgent: this.httpAgent,
          httpsAgent: this.httpsAgent,
          transport: trackingTransport(progress),
        });
      } catch (error) {
        if (timedOut) {
          throw new UpstreamTimeoutError({ timeoutMs: this.timeoutMs, target: this.endpoint, ...progress });
        }
        if (external?.aborted) throw new UpstreamAbortedError(this.endpoint, progress.requestSent);
        throw this.transportError(error);
      }

      const httpStatus = response.status;
      const body = toBuffer(response.data);
      const contentTypeHeader = response.headers['content-type'];
      const contentType = typeof contentTypeHeader === 'string' ? contentTypeHeader : null;
      if (httpStatus < 200 || httpStatus > 299) {
        throw this.httpStatusError(httpStatus, body, contentType);
      }
      let status: IntegrationStatus;
      try {
        status = parseIntegrationStatus(body, contentType ?? undefined, { defaultTimeZone: this.defaultTimeZone });
        assertSameIntegration(status, key);
      } catch (error) {
        throw error instanceof UpstreamError ? attachHttpStatus(error, httpStatus) : error;
      }
      return {
        status,
        httpStatus,
        durationMs: Math.round((performance.now() - started) * 10) / 10,
        contentType,
      };
    } catch (error) {
      throw this.finalError(error);
    } finally {
      clearTimeout(timer);
      external?.removeEventListener('abort', onExternalAbort);
    }
  }

  /** Closes the keep-alive sockets. */
  onModuleDestroy(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  private transportError(error: unknown): UpstreamError {
    const e = (error ?? {}) as { code?: unknown; message?: unknown; cause?: { code?: unknown } };
    const message = typeof e.message === 'string' ? e.message : '';
    const code = typeof e.code === 'string' ? e.code : typeof e.cause?.code === 'string' ? e.cause.code : undefined;
    if (message.includes('maxContentLength')) {
      return new UpstreamBodyTooLargeError(this.maxBodyBytes);
    }
    if (code !== undefined && CONNECTION_CODES.has(code)) {
      return new UpstreamConnectionError(this.hostPort, code);
    }
    if (code !== undefined && code.startsWith('HPE_')) {
      return new UpstreamConnectionError(this.hostPort, code, 'the upstream sent a malformed HTTP response');
    }
    // 'stream has been aborted' is axios's ERR_BAD_RESPONSE for a connection closed mid-body.
    if (message === 'socket hang up' || message === 'aborted' || message === 'stream has been aborted') {
      return new UpstreamConnectionError(this.hostPort, code ?? 'ECONNRESET', 'the connection closed before the answer was complete');
    }
    if (code !== undefined && (code.startsWith('Z_') || code === 'ERR_BAD_RESPONSE' || code === 'ERR_BAD_RESPONSE_ENCODING')) {
      return new UpstreamBodyUnreadableError(`upstream response from ${this.hostPort} could not be decoded (${code})`);
    }
    // The axios error is deliberately not the cause: its config holds the Authorization header.
    return new UpstreamUnexpectedError(
      `call to upstream ${this.hostPort} failed${code === undefined ? '' : ` (${code})`}: ${message.slice(0, 200) || 'unknown error'}`,
    );
  }

  private httpStatusError(httpStatus: number, body: Buffer, contentType: string | null): UpstreamHttpStatusError {
    const reason = nodeHttp.STATUS_CODES[httpStatus];
    const head = `upstream answered HTTP ${httpStatus}${reason ? ` ${reason}` : ''}`;
    // Secrets are scrubbed from the full texts before they are cut, so a cut can never leave
    // part of a secret behind; the error's fields get the scrubbed texts too, not just its message.
    const parsed = parseAspNetError(body, contentType ?? undefined);
    if (parsed !== null) {
      const aspNet: AspNetErrorDetails = {};
      for (const [name, value] of Object.entries(parsed) as Array<[keyof AspNetErrorDetails, string]>) {
        aspNet[name] = bodyExcerpt(this.scrub(value), 300);
      }
      const parts = [
        aspNet.message !== undefined ? `Message: ${aspNet.message}` : null,
        aspNet.messageDetail !== undefined ? `MessageDetail: ${aspNet.messageDetail}` : null,
        aspNet.exceptionType !== undefined ? `ExceptionType: ${aspNet.exceptionType}` : null,
        aspNet.exceptionMessage !== undefined ? `ExceptionMessage: ${aspNet.exceptionMessage}` : null,
      ].filter((p): p is string => p !== null);
      return new UpstreamHttpStatusError(`${head}: ${parts.join('; ')}`, { httpStatus, aspNet });
    }
    const text = new TextDecoder('utf-8', { fatal: false }).decode(body.subarray(0, 65_536));
    const excerpt = bodyExcerpt(this.scrub(text), 200);
    return new UpstreamHttpStatusError(
      excerpt === '' ? `${head} with an empty body` : `${head}; body: ${excerpt}`,
      { httpStatus, bodyExcerpt: excerpt },
    );
  }

  /** Makes sure what leaves the client is an UpstreamError whose message holds no secret. */
  private finalError(error: unknown): UpstreamError {
    const upstreamError =
      error instanceof UpstreamError
        ? error
        : new UpstreamUnexpectedError(
            `upstream call failed unexpectedly: ${error instanceof Error ? error.message : String(error)}`,
            // Only non-axios errors get here (axios errors are mapped above), so the cause holds no headers.
            { cause: error },
          );
    const scrubbed = this.scrub(upstreamError.message);
    if (scrubbed !== upstreamError.message) upstreamError.message = scrubbed;
    return upstreamError;
  }

  private scrub(text: string): string {
    let out = text;
    for (const secret of this.secrets) out = out.split(secret).join('[redacted]');
    return out;
  }
}

/**
 * An axios `transport` that is plain node:http/https (what axios uses with `maxRedirects: 0`)
 * and records whether the request was sent and whether the response started, for the timeout
 * message.
 */
function trackingTransport(progress: CallProgress): { request: typeof nodeHttp.request } {
  const request = ((options: nodeHttp.RequestOptions, callback?: (res: nodeHttp.IncomingMessage) => void) => {
    const transport = options.protocol === 'https:' ? nodeHttps : nodeHttp;
    const req = transport.request(options, (res) => {
      progress.responseStarted = true;
      callback?.(res);
    });
    req.once('finish', () => {
      progress.requestSent = true;
    });
    return req;
  }) as typeof nodeHttp.request;
  return { request };
}

function basicAuthorization(username: string, password: string): string {
  if (typeof username !== 'string' || typeof password !== 'string') {
    throw new TypeError('upstream basic auth needs a username and a password');
  }
  if (username.includes(':')) throw new TypeError('upstream basic auth username must not contain ":" (RFC 7617)');
  if (/[\u0000-\u001f\u007f]/.test(username + password)) {
    throw new TypeError('upstream basic auth username and password must not contain control characters');
  }
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

function safeDecode(component: string): string {
  try {
    return decodeURIComponent(component);
  } catch {
    return component;
  }
}

function toBuffer(data: unknown): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (data === undefined || data === null) return Buffer.alloc(0);
  throw new UpstreamUnexpectedError(`axios returned a ${typeof data} body instead of bytes`);
}

import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { ThrottlerStorage, getOptionsToken, type ThrottlerModuleOptions } from '@nestjs/throttler';
import { type IncomingMessage, type Server, type ServerOptions, type ServerResponse, createServer } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest, FastifyServerOptions, HookHandlerDoneFunction } from 'fastify';
import { REQUEST_ID_HEADER, requestIdFor, type ReadLineWriter } from '../observability/logging';
import { StateCache, type Rendered } from '../cache/state-cache';
import type { AppConfig } from '../config';
import { ApiKeyAuthenticator } from './auth/api-key.authenticator';
import { BucketedThrottlerStorage } from './auth/bucketed-throttler-storage';
import { refuseMissingHost } from './framework-errors';
import { CACHE_CONTROL, JSON_CONTENT_TYPE, etagMatches } from './rendered';

/** Headers of a Nest response that depend on the request or the body; the rest are the app's fixed headers. */
const PER_RESPONSE_HEADERS =
  /^(content-type|content-length|date|connection|keep-alive|transfer-encoding|x-request-id|etag|cache-control|vary|retry-after|x-ratelimit-.*|access-control-.*)$/i;
/** A cached answer's own headers, after the fixed ones; what Nest's IntegrationsController sets. */
const CACHE_CONTROL_HEADER = ['cache-control', CACHE_CONTROL];

interface Throttle {
  storage: BucketedThrottlerStorage;
  name: string;
  ttl: number;
  limit: number;
  blockDuration: number;
  tracker: (request: RequestView) => unknown;
  key: (tracker: string) => string;
}

/** What the fast path reads of a request, from Fastify's request or from Node's. */
interface RequestView {
  url: string;
  headers: IncomingMessage['headers'];
  /** The peer address: Fastify's `request.ip` (no proxy is trusted), or the socket's. */
  ip: string | undefined;
}

/** The request as its completion line names it. */
interface Served {
  id: string;
  url: string;
  headers: IncomingMessage['headers'];
  /** The socket's peer address, as pino-http logs it. */
  remoteAddress: string | undefined;
  /** `Date.now()` on arrival. */
  arrivedAt: number;
}

interface Armed {
  cache: StateCache;
  authenticator: ApiKeyAuthenticator;
  authDisabled: boolean;
  /** CORS is configured: only the Fastify hook answers, after the CORS hook set its headers. */
  cors: boolean;
  throttle: Throttle;
  /** The app's fixed headers and Cache-Control, as `[name, value, name, value, …]` for `writeHead`. */
  head: string[];
  /** Writes the request completion line, when one is logged for a successful read. */
  logLine: ReadLineWriter | null;
}

/**
 * The facade's hot reads (`GET /integrations/{id}/{name}` and `GET /integrations?…`) answered from the state
 * cache before Fastify routes the request ({@link FastReadPath.handleRaw}, the server's request listener), or with
 * CORS configured in a Fastify `onRequest` hook after the CORS hook, when the answer is sure to be what Nest would
 * send:
 * - the exact URL was validated and answered 200 by Nest before (so the path and query are known good), and its
 *   cached state is fresh by the cache's rule;
 * - auth is off, or the request carries a key with the `read` scope (the same ApiKeyAuthenticator);
 * - the rate limiter, counting in the same storage with the same key, lets it through (it sends no headers on an
 *   allowed request: `setHeaders: false`);
 * Anything else (a miss, a stale entry, a missing or unknown key, a block, another method) falls through to Nest
 * untouched, which answers it, problem+json and all. The response carries the same fixed headers as Nest's
 * (security headers, read once from a Nest response at boot), the request id, Cache-Control and the ETag; a
 * matching If-None-Match answers 304. The request completion line is the one pino-http would write for it
 * (src/observability/logging.ts `createReadLineWriter`).
 *
 * The answer is written with one `writeHead` of a prepared header list and one `end` on Node's response (in the
 * hook, after `reply.hijack()`), sparing Fastify's per-header bookkeeping and send path. The app registers no
 * `onSend` or `onResponse` hooks that this would skip; the e2e tests compare every header of both paths.
 */
export class FastReadPath {
  private armed: Armed | null = null;
  /** The app's fixed response headers (security headers and the like), read once the app is initialized. */
  private fixed: ReadonlyArray<readonly [string, string]> = [];

  /** The fixed headers every Nest answer carries, for answers made outside Nest (see framework-errors.ts). */
  readonly fixedHeaders = (): ReadonlyArray<readonly [string, string]> => this.fixed;
  /** The response each connection is writing, or wrote last (HTTP/1.1 answers one request at a time, in order). */
  private readonly responses = new WeakMap<Socket, ServerResponse>();

  /**
   * True while a response on `socket` has sent its head but not finished: a parse error of a request pipelined
   * behind it must then close the connection without writing, or its answer would land inside that response.
   */
  readonly responseInProgress = (socket: Socket): boolean => {
    const response = this.responses.get(socket);
    return response !== undefined && response.headersSent && !response.writableEnded;
  };

  /**
   * Add before Nest registers its middleware (i.e. before `NestFactory.create`). Answers only while CORS is
   * configured; otherwise {@link handleRaw} has already looked at the request (and counted it for the rate limiter).
   */
  readonly hook = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    const armed = this.armed;
    if (armed === null || !armed.cors || request.method !== 'GET') return done();
    const arrivedAt = armed.logLine === null ? 0 : Date.now();
    const answer = answerFor(armed, request);
    if (answer === null) return done();
    reply.hijack();
    write(armed, reply.raw, answer, {
      id: request.id,
      url: request.url,
      headers: request.headers,
      remoteAddress: request.raw.socket.remoteAddress,
      arrivedAt,
    });
  };

  /**
   * The same answers from Node's request and response, before Fastify routes the request, so that a cached read
   * does not pay for Fastify's request and reply objects, routing and hook runner. Used as the server's request
   * listener ahead of Fastify's (`serverFactory`); returns false to let Fastify handle the request. Not used while
   * CORS is configured (the CORS headers come from a Fastify hook) or once the app is closing (Fastify then answers
   * 503 itself).
   */
  readonly handleRaw = (request: IncomingMessage, response: ServerResponse): boolean => {
    const armed = this.armed;
    if (armed === null || armed.cors || request.method !== 'GET') return false;
    const arrivedAt = armed.logLine === null ? 0 : Date.now();
    const url = request.url ?? '';
    const remoteAddress = request.socket.remoteAddress;
    const answer = answerFor(armed, { url, headers: request.headers, ip: remoteAddress });
    if (answer === null) return false;
    write(armed, response, answer, {
      id: requestIdFor(request),
      url,
      headers: request.headers,
      remoteAddress,
      arrivedAt,
    });
    return true;
  };

  /**
   * Fastify's `serverFactory`: the HTTP server Fastify would make (same timeouts), whose requests meet
   * {@link handleRaw} first.
   */
  readonly serverFactory = (
    fastifyHandler: (request: IncomingMessage, response: ServerResponse) => void,
    options: FastifyServerOptions,
  ): Server => {
    const http = { ...(options as { http?: ServerOptions }).http, requireHostHeader: false };
    const server = createServer(http, (request, response) => {
      this.responses.set(request.socket, response);
      if (refuseMissingHost(request, response, this.fixedHeaders)) return;
      if (!this.handleRaw(request, response)) fastifyHandler(request, response);
    });
    // What Fastify sets on a server it makes itself (fastify/lib/server.js), with its defaults already applied.
    if (options.keepAliveTimeout !== undefined) server.keepAliveTimeout = options.keepAliveTimeout;
    if (options.requestTimeout !== undefined) server.requestTimeout = options.requestTimeout;
    if (options.connectionTimeout !== undefined) server.setTimeout(options.connectionTimeout);
    if (options.maxRequestsPerSocket !== undefined && options.maxRequestsPerSocket > 0)
      server.maxRequestsPerSocket = options.maxRequestsPerSocket;
    return server;
  };

  /** Stops answering: every request goes to Fastify (called before the app closes). */
  disarm(): void {
    this.armed = null;
  }

  /**
   * Turns the fast path on once the app is initialized, unless something makes its answers differ from Nest's.
   * @param logLine writes a successful read's completion line; null when such lines are not logged
   */
  async arm(app: NestFastifyApplication, config: AppConfig, logLine: ReadLineWriter | null): Promise<boolean> {
    const throttle = throttleOf(app);
    if (!throttle) return false;
    // The fixed headers of the app's responses, as a public route without rate limiting answers them.
    const probe = await app.getHttpAdapter().getInstance().inject({ method: 'GET', url: '/health/live' });
    if (probe.statusCode !== 200) return false;
    const fixed: Array<readonly [string, string]> = [];
    for (const [name, value] of Object.entries(probe.headers)) {
      if (value === undefined || PER_RESPONSE_HEADERS.test(name)) continue;
      for (const one of Array.isArray(value) ? value : [value]) fixed.push([name, String(one)]);
    }
    this.fixed = fixed;
    const head = [...fixed.flat(), ...CACHE_CONTROL_HEADER];
    this.armed = {
      cache: app.get(StateCache),
      authenticator: app.get(ApiKeyAuthenticator),
      authDisabled: config.access.authDisabled,
      cors: config.access.corsOrigins.length > 0,
      throttle,
      head,
      logLine,
    };
    return true;
  }
}

/** A cached answer that may be sent for this request: its rendering, whether it is a 304, and the key's name. */
interface Answer {
  rendered: Rendered;
  notModified: boolean;
  /** Undefined when auth is disabled (the guard then names no key either). */
  apiKeyName: string | undefined;
}

/** The answer for `request` if the fast path may send one (see FastReadPath), else null. */
function answerFor(armed: Armed, request: RequestView): Answer | null {
  const url = request.url;
  let rendered: Rendered | undefined;
  if (url.startsWith('/integrations/')) {
    rendered = armed.cache.integrationForUrl(url)?.rendered;
  } else if (url.startsWith('/integrations?') || url === '/integrations') {
    rendered = armed.cache.pageForUrl(url)?.rendered;
  }
  if (rendered === undefined) return null;
  let apiKeyName: string | undefined;
  if (!armed.authDisabled) {
    const credential = armed.authenticator.identify(request);
    if (credential.kind !== 'key' || !credential.key.scopes.includes('read')) return null;
    apiKeyName = credential.key.name;
  }
  const { throttle } = armed;
  const tracker = throttle.tracker(request);
  if (typeof tracker !== 'string') return null;
  const hit = throttle.storage.hit(
    throttle.key(tracker),
    throttle.ttl,
    throttle.limit,
    throttle.blockDuration,
    throttle.name,
  );
  if (hit.isBlocked) return null;
  return { rendered, notModified: etagMatches(request.headers['if-none-match'], rendered.etag), apiKeyName };
}

function write(armed: Armed, response: ServerResponse, answer: Answer, served: Served): void {
  const { rendered, notModified } = answer;
  const head = armed.head.slice();
  head.push('etag', rendered.etag, 'x-request-id', served.id);
  if (notModified) {
    response.writeHead(304, head).end();
  } else {
    head.push('content-type', JSON_CONTENT_TYPE, 'content-length', String(rendered.body.length));
    response.writeHead(200, head).end(rendered.text ?? rendered.body);
  }
  if (armed.logLine === null) return;
  const userAgent = served.headers['user-agent'];
  armed.logLine({
    requestId: served.id,
    requestIdFromClient: served.headers[REQUEST_ID_HEADER] === served.id,
    method: 'GET',
    url: served.url,
    remoteAddress: served.remoteAddress,
    userAgent,
    statusCode: notModified ? 304 : 200,
    responseTime: Date.now() - served.arrivedAt,
    apiKeyName: answer.apiKeyName,
  });
}

/** The one throttler the app configures, when the fast path can apply it exactly as the guard does. */
function throttleOf(app: NestFastifyApplication): Throttle | null {
  const storage: unknown = app.get(ThrottlerStorage, { strict: false });
  const options = app.get<ThrottlerModuleOptions>(getOptionsToken(), { strict: false });
  if (!(storage instanceof BucketedThrottlerStorage) || Array.isArray(options) || !options) return null;
  const [throttler, ...others] = options.throttlers;
  if (
    !throttler ||
    others.length > 0 ||
    options.skipIf ||
    options.ignoreUserAgents ||
    throttler.skipIf ||
    throttler.ignoreUserAgents
  )
    return null;
  // The guard would add X-RateLimit-* headers to allowed requests, which this path does not write.
  if ((throttler.setHeaders ?? options.setHeaders ?? true) !== false) return null;
  const { ttl, limit } = throttler;
  const blockDuration = throttler.blockDuration ?? ttl;
  if (typeof ttl !== 'number' || typeof limit !== 'number' || typeof blockDuration !== 'number') return null;
  const getTracker = throttler.getTracker ?? options.getTracker;
  const generateKey = throttler.generateKey ?? options.generateKey;
  if (!getTracker || !generateKey) return null;
  const name = throttler.name ?? 'default';
  return {
    storage,
    name,
    ttl,
    limit,
    blockDuration,
    // The app's tracker and key generator ignore the execution context, which a hook does not have.
    tracker: (request) => getTracker(request as never, undefined as never),
    key: (tracker) => generateKey(undefined as never, tracker, name),
  };
}

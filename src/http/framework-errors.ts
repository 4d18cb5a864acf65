import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';
import { safeInstance, titleFor } from './problem-details.filter';
import { PROBLEM_JSON_CONTENT_TYPE, PROBLEM_TYPES, problemTypeFor, type ProblemDetails } from './problem';
import { REQUEST_ID_HEADER, requestIdFor } from '../observability/logging';

const PROBLEM_JSON = PROBLEM_JSON_CONTENT_TYPE;

/** Response headers a cross-origin caller may read (Access-Control-Expose-Headers), on every answer. */
export const CORS_EXPOSED_HEADERS = ['X-Request-Id', 'Retry-After', 'WWW-Authenticate', 'ETag', 'Location', 'Allow'];

/** What the framework-level answers need to know about the app. */
export interface ProblemServerContext {
  /** CORS_ORIGINS: an allowed Origin gets the same CORS response headers as on every other answer. */
  corsOrigins: readonly string[];
  /** Whether a response on the connection has started (FastReadPath.responseInProgress). */
  responseInProgress: (socket: Socket) => boolean;
  /** The fixed headers of the app's answers (FastReadPath.fixedHeaders): security headers and the like. */
  fixedHeaders: () => ReadonlyArray<readonly [string, string]>;
}

/**
 * Fastify server options that answer, as problem+json, the errors Fastify raises where neither Nest's exception
 * filters nor Fastify's error handler (as set by Nest) are reached:
 * - `frameworkErrors`: the router refused the URL before routing, e.g. a path that is not percent-encoded UTF-8
 *   (`%FF`, `%C3%28`, a lone `%`), 400, or a path parameter longer than `maxParamLength`, 414.
 * - `clientErrorHandler`: Node's HTTP parser refused the request itself (raw non-ASCII bytes in the request line,
 *   an unknown method, malformed headers: 400; request line plus headers over 16 KiB: 431; request timeout: 408).
 *
 * Spread them into the FastifyAdapter options. Router errors run before any hook, so the CORS headers that the
 * CORS hook adds elsewhere are added here, for the same origins.
 */
export function problemServerOptions(
  context: ProblemServerContext,
): Pick<FastifyServerOptions, 'frameworkErrors' | 'clientErrorHandler'> {
  const corsOrigins = new Set(context.corsOrigins);
  return {
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      // Router errors run before every hook, so the headers the hooks give every other answer are set here.
      for (const [name, value] of context.fixedHeaders()) void reply.header(name, value);
      void reply.header(REQUEST_ID_HEADER, request.id).header('cache-control', 'no-store');
      if (corsOrigins.size > 0) addCorsHeaders(reply, request.headers.origin, corsOrigins);
      const status =
        typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode <= 599
          ? error.statusCode
          : 400;
      if (status >= 500)
        request.log.error({ err: error }, `${request.method} ${safeInstance(request.url)} → ${status}`);
      const problem: ProblemDetails = {
        type: problemTypeFor(status),
        title: titleFor(status),
        status,
        detail: frameworkErrorDetail(error, status),
        instance: safeInstance(request.url),
      };
      void reply.code(status).header('content-type', PROBLEM_JSON).send(JSON.stringify(problem));
    },
    clientErrorHandler: (error: Error & { code?: string }, socket: Socket) => {
      // A reset connection has no one to answer (https://nodejs.org/api/http.html#event-clienterror).
      if (error.code === 'ECONNRESET' || socket.destroyed) return;
      const status = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
      const problem: ProblemDetails = {
        type: problemTypeFor(status),
        title: titleFor(status),
        status,
        detail: clientErrorDetail(status),
      };
      const body = JSON.stringify(problem);
      if (socket.writable && !context.responseInProgress(socket)) {
        socket.write(rawProblemAnswer(status, [], body, context.fixedHeaders));
      }
      socket.destroy(error);
    },
  };
}

/**
 * Answers an HTTP/1.1 request without a Host header 400 (RFC 9112 §3.2) as problem+json with the app's fixed
 * headers and a request id. Node's own answer to it (`requireHostHeader`) is a bare 400 with none of them, so the
 * server is made with `requireHostHeader: false` and calls this before anything else sees the request.
 * @returns true when the request was answered here
 */
export function refuseMissingHost(
  request: IncomingMessage,
  response: ServerResponse,
  fixedHeaders: ProblemServerContext['fixedHeaders'],
): boolean {
  if (request.httpVersion !== '1.1' || request.headers.host !== undefined) return false;
  const problem: ProblemDetails = {
    type: problemTypeFor(400),
    title: titleFor(400),
    status: 400,
    detail: clientErrorDetail(400),
  };
  const body = JSON.stringify(problem);
  const head: string[] = [];
  for (const [name, value] of fixedHeaders()) head.push(name, value);
  head.push(REQUEST_ID_HEADER, requestIdFor(request), 'Content-Type', PROBLEM_JSON);
  head.push('Content-Length', String(Buffer.byteLength(body)), 'Connection', 'close');
  response.writeHead(400, titleFor(400), head).end(body);
  return true;
}

/** The headers @fastify/cors gives every other answer: Allow-Origin for an allowed origin only, the rest always. */
function addCorsHeaders(reply: FastifyReply, origin: string | undefined, allowed: ReadonlySet<string>): void {
  if (origin !== undefined && allowed.has(origin)) void reply.header('access-control-allow-origin', origin);
  void reply.header('access-control-expose-headers', CORS_EXPOSED_HEADERS.join(', ')).header('vary', 'Origin');
}

function frameworkErrorDetail(error: FastifyError, status: number): string {
  if (error.code === 'FST_ERR_BAD_URL') return 'The URL path is not valid percent-encoded UTF-8.';
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') return 'A path parameter is too long.';
  return status >= 500
    ? 'The request could not be routed; it has been logged.'
    : 'The request URL could not be routed.';
}

function clientErrorDetail(status: number): string {
  if (status === 408) return 'The request was not received in time.';
  if (status === 431) return 'The request line and headers are too large.';
  return 'The request is not valid HTTP/1.1 (request line, method or headers).';
}

/**
 * A listener for the server's `connect` event that answers CONNECT (which Node hands to that event, never to
 * Fastify, and closes without a word when nobody listens) with a 405 problem carrying the app's fixed headers.
 * Listen with `server.on('connect', refuseConnect(fixedHeaders))`.
 */
export function refuseConnect(
  fixedHeaders: ProblemServerContext['fixedHeaders'],
): (request: IncomingMessage, socket: Duplex) => void {
  return (request, socket) => {
    const problem: ProblemDetails = {
      type: PROBLEM_TYPES.methodNotAllowed,
      title: titleFor(405),
      status: 405,
      detail: 'CONNECT is not supported.',
      instance: safeInstance(request.url),
    };
    socket.on('error', () => undefined);
    socket.end(rawProblemAnswer(405, [['Allow', 'GET, HEAD, POST']], JSON.stringify(problem), fixedHeaders));
  };
}

/**
 * A whole HTTP/1.1 answer, written on the socket where no request object exists: the status line, `own` headers,
 * the fixed headers every other answer carries, a fresh request id, the problem+json framing and `body`, lines
 * ended by CRLF. The header values are the app's own constants and a UUID, so none holds a CR or LF.
 */
function rawProblemAnswer(
  status: number,
  own: ReadonlyArray<readonly [string, string]>,
  body: string,
  fixedHeaders: ProblemServerContext['fixedHeaders'],
): string {
  let head = `HTTP/1.1 ${status} ${titleFor(status)}\r\n`;
  for (const [name, value] of own) head += `${name}: ${value}\r\n`;
  for (const [name, value] of fixedHeaders()) head += `${name}: ${value}\r\n`;
  head += `${REQUEST_ID_HEADER}: ${randomUUID()}\r\n`;
  return `${head}Content-Type: ${PROBLEM_JSON}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

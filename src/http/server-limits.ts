import type { Server } from 'node:http';
import type { FastifyServerOptions } from 'fastify';
import type { AppConfig } from '../config';

/**
 * How long an idle keep-alive connection stays open: longer than the 60 s idle timeout of common load balancers, so
 * that they, not Tidemark, close first (a server closing first races the balancer's next request).
 */
export const KEEP_ALIVE_TIMEOUT_MS = 72_000;

/**
 * Fastify server options that bound what one client can hold:
 * - headers and body must arrive within HTTP_REQUEST_TIMEOUT_MS, else Node raises ERR_HTTP_REQUEST_TIMEOUT, which
 *   the client error handler answers 408 before closing the connection; Node looks for late requests every
 *   `connectionsCheckingInterval`, so that is a small fraction of the timeout;
 * - an idle keep-alive connection closes after {@link KEEP_ALIVE_TIMEOUT_MS};
 * - a connection silent for longer than any answer can take (a triggered run waits for its upstream call and its
 *   final write) is destroyed, which bounds a client that stops reading its answer.
 * HTTP_MAX_CONNECTIONS is a property of the server, set with {@link capConnections}.
 */
export function serverLimitOptions(config: AppConfig): Pick<
  FastifyServerOptions,
  'requestTimeout' | 'keepAliveTimeout' | 'connectionTimeout' | 'forceCloseConnections'
> & {
  http: { requestTimeout: number; headersTimeout: number; connectionsCheckingInterval: number };
} {
  const requestTimeoutMs = config.httpLimits.requestTimeoutMs;
  return {
    requestTimeout: requestTimeoutMs,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    connectionTimeout: requestTimeoutMs + config.upstream.timeoutMs + config.dbWriteRetryMs + KEEP_ALIVE_TIMEOUT_MS,
    // On close, Fastify closes idle connections at once; the rest are destroyed at the end of the grace period.
    forceCloseConnections: 'idle',
    http: {
      requestTimeout: requestTimeoutMs,
      headersTimeout: requestTimeoutMs,
      connectionsCheckingInterval: Math.min(1_000, Math.max(25, Math.floor(requestTimeoutMs / 10))),
    },
  };
}

/** Caps the open sockets at HTTP_MAX_CONNECTIONS: Node drops further connections until some close. */
export function capConnections(server: Server, config: AppConfig): void {
  server.maxConnections = config.httpLimits.maxConnections;
}

/**
 * Least time the answers of requests still in progress get, once the runs are drained, before their connections are
 * destroyed: a manual run's answer is written within a few ms of its end being recorded, so this only bounds a client
 * that does not read it.
 */
export const ANSWER_WINDOW_MS = 1_000;

/**
 * For a shutdown: closes idle connections now and destroys every connection still open once `graceMs` have passed,
 * again every 100 ms after that until `stop` (one could open before the server stops listening), so that closing
 * the server never waits on a client.
 * @returns stops the timers; call it once the server has closed
 */
export function closeConnectionsWithin(server: Server, graceMs: number): () => void {
  server.closeIdleConnections();
  let repeat: NodeJS.Timeout | undefined;
  const deadline = setTimeout(() => {
    server.closeAllConnections();
    repeat = setInterval(() => server.closeAllConnections(), 100);
    repeat.unref();
  }, graceMs);
  deadline.unref();
  return () => {
    clearTimeout(deadline);
    clearInterval(repeat);
  };
}

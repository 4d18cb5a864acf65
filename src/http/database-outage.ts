/** Seconds a client should wait before retrying a request refused because the database is unreachable. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

/** Socket errors of a connection that could not be made or was cut (Node's `code`). */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);

/**
 * SQLSTATEs that mean the server can't serve us right now, not that the statement is wrong: the connection
 * exception class (08…), too many connections, and the server shutting down, crashing or starting up (57P01–57P03).
 */
const UNAVAILABLE_SQLSTATE = /^(08[0-9A-Z]{3}|53300|57P0[123])$/;

/** Messages of node-postgres for a pool that could not connect in time, or a connection that ended under a query. */
const PG_CLIENT_MESSAGES = [
  'timeout exceeded when trying to connect',
  'Connection terminated unexpectedly',
  'Connection terminated due to connection timeout',
  'Connection terminated',
  'Client has encountered a connection error and is not queryable',
];

/**
 * Whether `error` (as thrown by pg or TypeORM, possibly wrapped as `driverError` or `cause`, or an AggregateError
 * of one attempt per address) says the database is unreachable rather than that a query is wrong.
 */
export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 4) return false;
  const { code, message, driverError, cause, errors } = error as {
    code?: unknown;
    message?: unknown;
    driverError?: unknown;
    cause?: unknown;
    errors?: unknown;
  };
  if (typeof code === 'string' && (SOCKET_CODES.has(code) || UNAVAILABLE_SQLSTATE.test(code))) return true;
  if (typeof message === 'string' && PG_CLIENT_MESSAGES.some((known) => message.startsWith(known))) return true;
  if (Array.isArray(errors) && errors.length > 0 && errors.every((one) => isDatabaseUnavailable(one, depth + 1)))
    return true;
  return isDatabaseUnavailable(driverError, depth + 1) || isDatabaseUnavailable(cause, depth + 1);
}

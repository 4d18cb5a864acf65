import {
  Catch,
  HttpException,
  HttpStatus,
  Logger,
  NotFoundException,
  type ArgumentsHost,
  type ExceptionFilter,
} from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable } from './database-outage';
import type { RouteMethods } from './http-conventions';
import {
  PROBLEM_JSON_CONTENT_TYPE,
  PROBLEM_TYPES,
  ProblemException,
  problemTypeFor,
  type ProblemDetails,
} from './problem';

/**
 * Turns every error that reaches HTTP into RFC 9457 `application/problem+json`: our own problems as they are,
 * Nest and Fastify errors (404 route, 413, 415, bad JSON) with their status, a path that exists under other
 * methods as 405 with `Allow`, an unreachable database as 503 with `Retry-After`, and anything else as a 500 whose
 * detail hides internals (the cause is logged).
 */
@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  /** @param routes the app's routes, to tell a wrong method (405) from a wrong path (404) */
  constructor(private readonly routes?: RouteMethods) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const allowed = this.methodsIfWrongMethod(exception, request);
    if (allowed) void reply.header('allow', allowed.join(', '));
    const problem = allowed
      ? methodNotAllowed(request.method, allowed)
      : isRouteNotFound(exception)
        ? routeNotFound(request?.method)
        : withMediaTypeRule(this.toProblem(exception), exception);
    // Every 503 says when to come back; an exception's own Retry-After (set below) wins.
    if (problem.status === 503) void reply.header('retry-after', String(DATABASE_RETRY_AFTER_SECONDS));
    problem.instance = safeInstance(request?.url);
    if (problem.status >= 500) {
      this.logger.error(
        `${request?.method} ${problem.instance} → ${problem.status}: ${(exception as Error)?.stack ?? String(exception)}`,
      );
    }
    for (const [name, value] of Object.entries(headersOf(exception))) void reply.header(name, value);
    void reply.status(problem.status).header('content-type', PROBLEM_JSON_CONTENT_TYPE).send(JSON.stringify(problem));
  }

  /** For Nest's "no route" 404 on a path that other methods answer: those methods; else undefined. */
  private methodsIfWrongMethod(exception: unknown, request: FastifyRequest | undefined): string[] | undefined {
    if (!this.routes || !request || !(exception instanceof NotFoundException) || exception instanceof ProblemException)
      return undefined;
    const allowed = this.routes.allowed(request.url);
    return allowed.length > 0 && !allowed.includes(request.method) ? allowed : undefined;
  }

  private toProblem(exception: unknown): ProblemDetails {
    if (exception instanceof ProblemException) return { ...exception.problem };
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const body = exception.getResponse();
      const message = typeof body === 'string' ? body : (body as { message?: unknown }).message;
      return {
        type: problemTypeFor(status),
        title: titleFor(status),
        status,
        detail: Array.isArray(message) ? message.join('; ') : typeof message === 'string' ? message : exception.message,
      };
    }
    // Fastify's own errors (body too large, unsupported media type, malformed JSON) carry a 4xx statusCode.
    const statusCode = (exception as { statusCode?: unknown })?.statusCode;
    if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
      return {
        type: problemTypeFor(statusCode),
        title: titleFor(statusCode),
        status: statusCode,
        detail: (exception as Error).message,
      };
    }
    if (isDatabaseUnavailable(exception)) {
      return {
        type: PROBLEM_TYPES.unavailable,
        title: titleFor(HttpStatus.SERVICE_UNAVAILABLE),
        status: HttpStatus.SERVICE_UNAVAILABLE,
        detail: `The database is unreachable; try again in ${DATABASE_RETRY_AFTER_SECONDS} s.`,
      };
    }
    return {
      type: PROBLEM_TYPES.internalError,
      title: titleFor(HttpStatus.INTERNAL_SERVER_ERROR),
      status: HttpStatus.INTERNAL_SERVER_ERROR,
      detail: 'An unexpected error occurred; it has been logged.',
    };
  }
}

/**
 * Nest's "no route" 404 (every 404 of our own routes is a ProblemException with its own detail), or the error with
 * which the docs' static file plugin refuses a path it will not resolve (`/docs//`, as Nest passes it on: the
 * plugin's error as `cause`). Either way the path names no resource.
 */
function isRouteNotFound(exception: unknown): boolean {
  if (exception instanceof ProblemException) return false;
  if (exception instanceof NotFoundException) return true;
  const cause = exception instanceof Error ? exception.cause : undefined;
  return (cause as { code?: unknown } | undefined)?.code === STATIC_FORBIDDEN_PATH;
}

/** @fastify/static's error code for a path it refuses to resolve. */
const STATIC_FORBIDDEN_PATH = 'FST_STATIC_FORBIDDEN_PATH';

function routeNotFound(method: string | undefined): ProblemDetails {
  return {
    type: PROBLEM_TYPES.notFound,
    title: titleFor(HttpStatus.NOT_FOUND),
    status: HttpStatus.NOT_FOUND,
    detail: `No resource answers ${method ?? 'this method'} at this path; the API's paths are listed at /docs.`,
  };
}

function methodNotAllowed(method: string, allowed: string[]): ProblemDetails {
  return {
    type: PROBLEM_TYPES.methodNotAllowed,
    title: titleFor(HttpStatus.METHOD_NOT_ALLOWED),
    status: HttpStatus.METHOD_NOT_ALLOWED,
    detail: `${method} is not allowed here; this resource allows ${allowed.join(', ')}.`,
  };
}

/** Response headers an exception asks for: a ProblemException's own, or `headers` in another HttpException's response. */
function headersOf(exception: unknown): Record<string, string> {
  if (exception instanceof ProblemException) return { ...exception.headers };
  if (exception instanceof HttpException) {
    const response = exception.getResponse() as { headers?: Record<string, string> } | string;
    if (typeof response === 'object' && response?.headers) return response.headers;
  }
  return {};
}

/**
 * Every body the API reads is JSON; Fastify's 415 for another media type says so, naming the header, as a 400 names
 * its field (our own 415s name their rule already).
 */
function withMediaTypeRule(problem: ProblemDetails, exception: unknown): ProblemDetails {
  if (problem.status !== 415 || exception instanceof ProblemException) return problem;
  return { ...problem, detail: 'content-type: must be application/json (every request body is JSON)' };
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function titleFor(status: number): string {
  return TITLES[status] ?? (status >= 500 ? 'Server Error' : 'Client Error');
}

/** The request path as a problem `instance`, cut short and without the query string (which may hold a cursor). */
export function safeInstance(url: string | undefined): string {
  const path = (url ?? '/').split('?')[0];
  return path.length > 512 ? `${path.slice(0, 512)}…` : path;
}

import type { CallHandler, ExecutionContext, NestInterceptor } from '@nestjs/common';
import type { OpenAPIObject } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import type { Observable } from 'rxjs';
import { ProblemException } from './problem';

/**
 * Refuses, with a 400 naming each, the query parameters of an operation that the OpenAPI document declares none
 * for: every GET treats an unknown parameter alike (a typo such as `limt` is reported, never silently ignored). An
 * operation that declares some reads them into a query DTO, and the ValidationPipe refuses unknown, repeated and
 * invalid ones there, all in one answer. Runs after the guards, so an unauthenticated request is still a 401 first.
 */
export class KnownQueryInterceptor implements NestInterceptor {
  /** The operations that declare no query parameter, as `METHOD /fastify/:route`. */
  private readonly withoutQuery = new Set<string>();

  constructor(document: OpenAPIObject) {
    for (const [path, item] of Object.entries(document.paths)) {
      const route = path.replace(/\{([^}]+)\}/g, ':$1');
      for (const [method, operation] of Object.entries(item as Record<string, { parameters?: unknown[] }>)) {
        const names = (operation.parameters ?? [])
          .filter((p): p is { in: string; name: string } => (p as { in?: unknown }).in === 'query')
          .map((p) => p.name);
        if (names.length === 0) this.withoutQuery.add(`${method.toUpperCase()} ${route}`);
      }
    }
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const method = request.method === 'HEAD' ? 'GET' : request.method;
    const query = request.query as Record<string, unknown> | undefined;
    if (this.withoutQuery.has(`${method} ${request.routeOptions.url}`) && query) {
      const unknown = Object.keys(query);
      if (unknown.length > 0) {
        throw ProblemException.invalidParameters(unknown.map((name) => ({ name, reason: 'is not a known parameter' })));
      }
    }
    return next.handle();
  }
}

import type { CallHandler, ExecutionContext, NestInterceptor } from '@nestjs/common';
import type { OpenAPIObject } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import type { Observable } from 'rxjs';
import { ProblemException } from './problem';

/**
 * Refuses, with a 400 naming each, query parameters that the OpenAPI document does not declare for the operation:
 * every GET treats an unknown parameter alike (a typo such as `limt` is reported, never silently ignored); then
 * declared parameters given more than once. Runs
 * after the guards, so an unauthenticated request is still a 401 first.
 */
export class KnownQueryInterceptor implements NestInterceptor {
  /** Declared query parameter names by `METHOD /fastify/:route`. */
  private readonly known = new Map<string, Set<string>>();

  constructor(document: OpenAPIObject) {
    for (const [path, item] of Object.entries(document.paths)) {
      const route = path.replace(/\{([^}]+)\}/g, ':$1');
      for (const [method, operation] of Object.entries(item as Record<string, { parameters?: unknown[] }>)) {
        const names = (operation.parameters ?? [])
          .filter((p): p is { in: string; name: string } => (p as { in?: unknown }).in === 'query')
          .map((p) => p.name);
        this.known.set(`${method.toUpperCase()} ${route}`, new Set(names));
      }
    }
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const method = request.method === 'HEAD' ? 'GET' : request.method;
    const known = this.known.get(`${method} ${request.routeOptions.url}`);
    const query = request.query as Record<string, unknown> | undefined;
    if (known && query) {
      const unknown = Object.keys(query).filter((name) => !known.has(name));
      if (unknown.length > 0) {
        throw ProblemException.invalidParameters(unknown.map((name) => ({ name, reason: 'is not a known parameter' })));
      }
      // Every declared parameter takes one value; a repeated one would otherwise fail its own rule, misleadingly.
      const repeated = Object.keys(query).filter((name) => Array.isArray(query[name]));
      if (repeated.length > 0) {
        throw ProblemException.invalidParameters(repeated.map((name) => ({ name, reason: 'must be given once' })));
      }
    }
    return next.handle();
  }
}

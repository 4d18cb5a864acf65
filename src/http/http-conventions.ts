import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Server } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { jsonBodyOf } from './json-body';
import { PROBLEM_JSON_CONTENT_TYPE, problemTypeFor, type ProblemDetails } from './problem';
import { safeInstance, titleFor } from './problem-details.filter';

/**
 * The methods each route path answers, learnt from Fastify's `onRoute` hook, so that a request whose path exists
 * under other methods is answered 405 with `Allow` rather than 404. Wildcard routes (CORS's `OPTIONS *`, the
 * static docs assets) are left out: they would make every path answer every method.
 */
export class RouteMethods {
  private readonly routes: Array<{ pattern: RegExp; methods: string[] }> = [];

  /** Call before the routes are registered (before `app.init()`). */
  track(fastify: FastifyInstance): void {
    fastify.addHook('onRoute', (route) => {
      if (route.url.includes('*')) return;
      const methods = (Array.isArray(route.method) ? route.method : [route.method]).map(String);
      this.routes.push({ pattern: routePattern(route.url), methods });
    });
  }

  /** The methods that `url`'s path answers, sorted (for `Allow`); empty when no route has that path. */
  allowed(url: string | undefined): string[] {
    const path = (url ?? '/').split('?')[0];
    const methods = new Set<string>();
    for (const route of this.routes) if (route.pattern.test(path)) for (const m of route.methods) methods.add(m);
    return [...methods].sort();
  }
}

/** A Fastify route path (`/a/:b/c`) as a regular expression matching raw request paths. */
function routePattern(url: string): RegExp {
  const source = url
    .split('/')
    .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source}/?$`);
}

/**
 * HTTP conventions that sit below Nest's controllers:
 * - an empty body sent with `Content-Type: application/json` (as .NET's HttpClient does on a bodiless POST) is no
 *   body, not a 400;
 * - OPTIONS that is not a CORS preflight (no `Origin` or no `Access-Control-Request-Method`) answers 405 with
 *   `Allow` as problem+json, before the CORS plugin would answer it in plain text;
 * - routes are tracked for the 405s of {@link RouteMethods}.
 * Call before `enableCors` and `app.init()`.
 */
export function applyHttpConventions(app: NestFastifyApplication, routes: RouteMethods): void {
  const fastify = app.getHttpAdapter().getInstance();
  routes.track(fastify);
  app.useBodyParser<Server>(
    'application/json',
    { bodyLimit: fastify.initialConfig.bodyLimit },
    (request, body, done) => {
      try {
        done(null, jsonBodyOf(request.headers, body));
      } catch (error) {
        done(error as Error);
      }
    },
  );
  fastify.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    if (request.method !== 'OPTIONS') return;
    if (request.headers.origin !== undefined && request.headers['access-control-request-method'] !== undefined) return;
    const allowed = routes.allowed(request.url);
    const status = allowed.length > 0 ? 405 : 404;
    const problem: ProblemDetails = {
      type: problemTypeFor(status),
      title: titleFor(status),
      status,
      detail:
        status === 405
          ? `OPTIONS is only answered as a CORS preflight; this resource allows ${allowed.join(', ')}.`
          : 'No such resource.',
      instance: safeInstance(request.url),
    };
    if (status === 405) void reply.header('allow', allowed.join(', '));
    return reply.code(status).header('content-type', PROBLEM_JSON_CONTENT_TYPE).send(JSON.stringify(problem));
  });
}

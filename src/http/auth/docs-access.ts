import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppConfig } from '../../config';
import { ProblemException } from '../problem';
import type { ApiKeyAuthenticator } from './api-key.authenticator';

/** Routes of the Swagger UI and its assets, and of the OpenAPI documents: plain Fastify routes of @nestjs/swagger. */
const DOCS_ROUTE = /^\/docs(?:-json|-yaml)?(?:\/|$)/;

/**
 * When DOCS_PUBLIC=false (and auth is on), the documentation needs a `read` key like the API. @nestjs/swagger
 * registers /docs outside Nest's controllers, where guards don't run, hence a Fastify `onRequest` hook (which runs
 * after routing). Add it before the routes are registered.
 */
export function protectDocs(fastify: FastifyInstance, config: AppConfig, authenticator: ApiKeyAuthenticator): void {
  if (config.access.docsPublic || config.access.authDisabled) return;
  fastify.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    // The route the router matched, not the raw URL: the router decodes and normalizes the path (`/%64ocs-json`,
    // `/docs%2djson` are `/docs-json`), so only the matched route says what will be served.
    const route = request.routeOptions.url;
    if (route === undefined || !DOCS_ROUTE.test(route)) return;
    try {
      authenticator.authorize(request, 'read');
    } catch (error) {
      if (!(error instanceof ProblemException)) throw error;
      const problem = { ...error.problem, instance: request.url.split('?')[0] };
      return reply
        .code(problem.status)
        .headers(error.headers)
        .header('content-type', 'application/problem+json; charset=utf-8')
        .send(JSON.stringify(problem));
    }
  });
}

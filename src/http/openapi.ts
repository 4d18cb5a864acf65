import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import type { AppConfig } from '../config';
import { completeDocument } from './openapi-document';

/**
 * Swagger UI pages whose relative asset URLs (`./docs/swagger-ui.css`, or `./swagger-ui.css` when the URL ends in a
 * slash) resolve wrongly under some URL: `/docs/index.html` always, `/docs/?…` (a query hides the slash). They
 * redirect to the one page URL that always works.
 */
const DOCS_ALIASES = new Set(['/docs/', '/docs/index.html']);

const served = new WeakMap<NestFastifyApplication, OpenAPIObject>();

/** The document an app serves at /docs-json (for tests that check responses against it). */
export function openApiDocumentOf(app: NestFastifyApplication): OpenAPIObject | undefined {
  return served.get(app);
}

/**
 * Builds the OpenAPI document from the controllers, completes it into the published contract, and serves it at
 * `/docs` (Swagger UI) and `/docs-json`. Returns the document (the known query parameters are read from it).
 */
export function setupOpenApi(app: NestFastifyApplication, config: AppConfig): OpenAPIObject {
  const generated = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Tidemark')
      .setDescription('Integration watermarks from IntegrationStart, exact and with history.')
      .setVersion('1')
      .addBearerAuth(
        { type: 'http', scheme: 'bearer', description: 'An API key (npm run apikey) as a bearer token.' },
        'bearer',
      )
      .addApiKey(
        { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'The same API key, in X-API-Key.' },
        'apiKey',
      )
      .build(),
  );
  const document = completeDocument(generated, { metricsPublic: config.access.metricsPublic });
  redirectDocsAliases(app);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
  served.set(app, document);
  return document;
}

/**
 * Makes the routes of {@link DOCS_ALIASES} answer 301 to `/docs` (with the query). Their handlers are replaced as
 * @nestjs/swagger adds them, so they stay its routes: the docs access rules (src/http/auth/docs-access.ts) and the
 * Swagger UI's headers apply to the redirect as to the page. Call before the Swagger UI is set up.
 */
function redirectDocsAliases(app: NestFastifyApplication): void {
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRoute', (route: RouteOptions) => {
      if (!DOCS_ALIASES.has(route.url)) return;
      route.handler = (request: FastifyRequest, reply: FastifyReply) => {
        const query = request.url.indexOf('?');
        return reply.redirect(query === -1 ? '/docs' : `/docs${request.url.slice(query)}`, 301);
      };
    });
}

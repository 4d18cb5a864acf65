import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import type { AppConfig } from '../config';
import { completeDocument } from './openapi-document';

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
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
  served.set(app, document);
  return document;
}

import helmet, { type FastifyHelmetOptions } from '@fastify/helmet';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { RouteOptions } from 'fastify';

/** The Swagger UI's routes (the page, its init script and static assets): HTML and scripts, for browsers. */
const DOCS_UI_ROUTE = /^\/docs(?:\/|$)/;

/**
 * Security headers of the JSON API (every response but the Swagger UI's), as the OWASP REST Security Cheat Sheet
 * lists them for APIs: a CSP that allows nothing and no framing, `X-Frame-Options: DENY` for browsers without
 * `frame-ancestors`, `X-Content-Type-Options: nosniff`, HSTS, `Referrer-Policy: no-referrer` and
 * `Cross-Origin-Resource-Policy: same-origin`; `Cache-Control: no-store` unless an answer sets its own (the reads with
 * an ETag: `no-cache`).
 *
 * Helmet's other headers only act on documents a browser renders or on legacy clients, and a JSON answer with
 * nosniff and `default-src 'none'` is never rendered as one: `Cross-Origin-Opener-Policy`, `Origin-Agent-Cluster`,
 * `X-DNS-Prefetch-Control`, `X-Download-Options` (IE8), `X-Permitted-Cross-Domain-Policies` (Flash, Acrobat) and
 * `X-XSS-Protection: 0`. Leaving them out takes six header lines off every answer: on a cached read, writing the
 * response head costs more CPU than finding the answer (README, Performance).
 */
export const API_SECURITY_HEADERS: FastifyHelmetOptions = {
  contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
  crossOriginEmbedderPolicy: false,
  crossOriginOpenerPolicy: false,
  crossOriginResourcePolicy: { policy: 'same-origin' },
  originAgentCluster: false,
  referrerPolicy: { policy: 'no-referrer' },
  strictTransportSecurity: true,
  xContentTypeOptions: true,
  xDnsPrefetchControl: false,
  xDownloadOptions: false,
  xFrameOptions: { action: 'deny' },
  xPermittedCrossDomainPolicies: false,
  xXssProtection: false,
};

/**
 * Helmet's full default set for the Swagger UI at /docs, a page a browser renders, with a CSP that lets it run its
 * own scripts, inline styles and data: images. Every option is named because @fastify/helmet merges a route's
 * options over the global ones key by key.
 */
export const DOCS_SECURITY_HEADERS: FastifyHelmetOptions = {
  contentSecurityPolicy: {
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      objectSrc: ["'none'"],
      frameAncestors: ["'none'"],
      upgradeInsecureRequests: null,
    },
  },
  crossOriginEmbedderPolicy: false,
  crossOriginOpenerPolicy: true,
  crossOriginResourcePolicy: true,
  originAgentCluster: true,
  referrerPolicy: true,
  strictTransportSecurity: true,
  xContentTypeOptions: true,
  xDnsPrefetchControl: true,
  xDownloadOptions: true,
  xFrameOptions: true,
  xPermittedCrossDomainPolicies: true,
  xXssProtection: true,
};

/**
 * Registers @fastify/helmet with {@link API_SECURITY_HEADERS} for every route, and {@link DOCS_SECURITY_HEADERS}
 * for the Swagger UI's routes. Call before the Swagger UI is set up (its routes are marked as they are added).
 */
export async function registerSecurityHeaders(app: NestFastifyApplication): Promise<void> {
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('onRoute', (route: RouteOptions) => {
    if (DOCS_UI_ROUTE.test(route.url)) route.config = { ...route.config, helmet: DOCS_SECURITY_HEADERS };
  });
  // Answers are per caller and many are behind a key: no cache keeps one unless the answer says otherwise (the reads
  // with an ETag revalidate with `no-cache`, static assets set their own).
  fastify.addHook('onSend', (_request, reply, payload, done) => {
    if (!reply.hasHeader('cache-control')) void reply.header('cache-control', 'no-store');
    done(null, payload);
  });
  await app.register(helmet, API_SECURITY_HEADERS);
}

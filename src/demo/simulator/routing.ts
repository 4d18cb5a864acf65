/**
 * How the simulated upstream reads and routes HTTP: its routes (matched case-insensitively, as ASP.NET routing does),
 * media types and Web API's content negotiation, request bodies under a size cap, and ASP.NET-style JSON answers.
 */
import type * as http from 'node:http';

/** The route of the simulated endpoint. */
export const INTEGRATION_START_PATH = '/api/integration/IntegrationStatus/IntegrationStart';
/** The default route of the token endpoint (client_credentials and Gravitate's password form). */
export const TOKEN_PATH = '/api/token/authorize';
/**
 * Every route the token endpoint answers on: Gravitate's clients post to `{api}/token/authorize`, `{api}/token` or
 * `{api}/v1/token`, with or without the `/api` segment in their base URL.
 */
export const TOKEN_PATHS: ReadonlySet<string> = new Set(
  ['/token/authorize', '/token', '/v1/token'].flatMap((path) => [path, `/api${path}`]),
);
/** Prefix of the control API that tests and the bench use to script the simulator over HTTP. */
export const CONTROL_PREFIX = '/__simulator/';

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';
export const XML_CONTENT_TYPE = 'application/xml; charset=utf-8';
const MAX_BODY_BYTES = 1024 * 1024;

/** What each route does; the router only decides which one runs. */
export interface RouteHandlers {
  integrationStart(req: http.IncomingMessage, res: http.ServerResponse): Promise<void>;
  token(req: http.IncomingMessage, res: http.ServerResponse): Promise<void>;
  control(action: string, url: URL, req: http.IncomingMessage, res: http.ServerResponse): Promise<void>;
}

/** Dispatches one request: 405 for a known route with the wrong method, 404 for anything else. */
export async function routeRequest(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  handlers: RouteHandlers,
): Promise<void> {
  // The usual request, spelled exactly as documented, skips URL parsing.
  if (req.url === INTEGRATION_START_PATH && req.method === 'POST') return handlers.integrationStart(req, res);
  const url = new URL(req.url ?? '/', 'http://simulator');
  const route = url.pathname.replace(/\/+$/, '').toLowerCase();
  if (route === INTEGRATION_START_PATH.toLowerCase()) {
    return req.method === 'POST' ? handlers.integrationStart(req, res) : refuseMethod(req, res);
  }
  if (TOKEN_PATHS.has(route)) {
    return req.method === 'POST' ? handlers.token(req, res) : refuseMethod(req, res);
  }
  if (route.startsWith(CONTROL_PREFIX)) return handlers.control(route.slice(CONTROL_PREFIX.length), url, req, res);
  req.resume();
  sendJson(res, 404, { Message: `No HTTP resource was found that matches the request URI '${url.pathname}'.` });
}

function refuseMethod(req: http.IncomingMessage, res: http.ServerResponse): void {
  req.resume();
  sendJson(
    res,
    405,
    { Message: `The requested resource does not support http method '${req.method}'.` },
    { Allow: 'POST' },
  );
}

/** Answers `body` as compact JSON with an exact Content-Length. */
export function sendJson(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = Buffer.from(JSON.stringify(body), 'utf8');
  res.writeHead(status, { 'Content-Type': JSON_CONTENT_TYPE, 'Content-Length': String(text.length), ...headers });
  res.end(text);
}

/** The request body was over the cap; the rest of it is drained and dropped. */
export class BodyTooLargeError extends Error {}

/** Reads a whole request body, at most 1 MiB. @throws BodyTooLargeError beyond that. */
export function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLargeError());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

// Clients send the same few Content-Type and Accept headers on every call, so their readings are memoised.
const MEDIA_TYPES = new Map<string, string>();
const NEGOTIATED = new Map<string, Negotiated>();
const MAX_MEMO = 256;

/** The lower-cased `type/subtype` of a Content-Type header; '' when absent. */
export function mediaTypeOf(header: string | undefined): string {
  const text = header ?? '';
  let mediaType = MEDIA_TYPES.get(text);
  if (mediaType === undefined) {
    mediaType = text.split(';')[0].trim().toLowerCase();
    if (MEDIA_TYPES.size < MAX_MEMO) MEDIA_TYPES.set(text, mediaType);
  }
  return mediaType;
}

export function isXmlMediaType(mt: string): boolean {
  return mt === 'application/xml' || mt === 'text/xml';
}

export function isJsonMediaType(mt: string): boolean {
  return mt === 'application/json' || mt === 'text/json';
}

/** The upstream's JSON formatter also reads text/html bodies (its help page lists a text/html request sample). */
export function isJsonRequestMediaType(mt: string): boolean {
  return isJsonMediaType(mt) || mt === 'text/html';
}

/** The response format Web API's content negotiation picks, and the Content-Type it answers with. */
export interface Negotiated {
  format: 'json' | 'xml';
  contentType: string;
}

/**
 * Picks the response formatter like Web API's DefaultContentNegotiator: the Accept entry with the
 * highest quality wins, a literal match beats `type/*` which beats `*\/*`, ties go to the JSON
 * formatter (registered first). Without a usable Accept header Web API falls back to the request's
 * media type, so an XML request with no Accept header gets XML back.
 */
export function negotiateResponse(accept: string | undefined, requestMediaType: string): Negotiated {
  // The answer for a pair of header texts never changes.
  const memoKey = `${accept ?? ''}\u0000${requestMediaType}`;
  const known = NEGOTIATED.get(memoKey);
  if (known !== undefined) return known;
  const negotiated = negotiate(accept, requestMediaType);
  if (NEGOTIATED.size < MAX_MEMO) NEGOTIATED.set(memoKey, negotiated);
  return negotiated;
}

function negotiate(accept: string | undefined, requestMediaType: string): Negotiated {
  const formatters: Array<{ format: 'json' | 'xml'; types: string[] }> = [
    // The upstream also registered text/html on its JSON formatter (its help page shows a text/html sample).
    { format: 'json', types: ['application/json', 'text/json', 'text/html'] },
    { format: 'xml', types: ['application/xml', 'text/xml'] },
  ];
  let best: { n: Negotiated; q: number; rank: number; order: number } | undefined;
  for (const part of (accept ?? '').split(',')) {
    const [range, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (!range) continue;
    const qParam = params.find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (!(q > 0)) continue;
    const [type, subtype] = range.split('/');
    formatters.forEach((f, order) => {
      for (const mt of f.types) {
        const [mtType, mtSub] = mt.split('/');
        let rank = 0;
        if (type === '*' && subtype === '*') rank = 1;
        else if (type === mtType && subtype === '*') rank = 2;
        else if (type === mtType && subtype === mtSub) rank = 3;
        if (rank === 0) continue;
        const contentType =
          f.format === 'json'
            ? JSON_CONTENT_TYPE
            : rank === 3 && mt === 'text/xml'
              ? 'text/xml; charset=utf-8'
              : XML_CONTENT_TYPE;
        const better =
          !best ||
          q > best.q ||
          (q === best.q && rank > best.rank) ||
          (q === best.q && rank === best.rank && order < best.order);
        if (better) best = { n: { format: f.format, contentType }, q, rank, order };
        break;
      }
    });
  }
  if (best) return best.n;
  if (isXmlMediaType(requestMediaType)) {
    return {
      format: 'xml',
      contentType: requestMediaType === 'text/xml' ? 'text/xml; charset=utf-8' : XML_CONTENT_TYPE,
    };
  }
  return { format: 'json', contentType: JSON_CONTENT_TYPE };
}

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type RawRequest, useFacadeFuzz } from '../support/facade-fuzz-client';
import { encodeQueryValue, encodedName, numberText, params, queryText } from '../support/facade-fuzz-arbitraries';

/**
 * Property-based fuzzing of the facade with raw requests (see ../support/facade-fuzz-client.ts for the invariant
 * every answer is checked against): pause and resume bodies, oversized bodies, wrong methods, the
 * probes and docs, and malformed requests; then the service still serves.
 */

describe('facade fuzz: every route answers 4xx problem+json to bad input, never 5xx, never hangs', () => {
  const { check } = useFacadeFuzz();

  it('POST pause and resume with any id, name, content type and body', async () => {
    const contentType = fc.oneof(
      fc.constantFrom(
        'application/json',
        'application/json; charset=utf-8',
        'application/json; charset=utf-16',
        'application/problem+json',
        'text/plain',
        'text/html',
        'application/xml',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/octet-stream',
        '*/*',
        ';;;',
        'application/json;;;charset',
        '',
      ),
      fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 30 }),
    );
    const body = fc.oneof(
      fc.constant(undefined),
      fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null'),
      fc.string({ maxLength: 200 }),
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
      fc.constantFrom(
        '{"__proto__":{"polluted":1}}',
        '{"constructor":{"prototype":{"polluted":1}}}',
        '{bad',
        '',
        'a=%FF&b=%',
        '\u0000',
      ),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('pause', 'resume'),
        fc.oneof(numberText, fc.constant('7')),
        fc.oneof(encodedName, fc.constant('Orders')),
        contentType,
        body,
        async (action, id, name, type, payload) => {
          const headers: Record<string, string> = {};
          if (type !== '' || payload !== undefined) headers['content-type'] = type;
          await check({
            method: 'POST',
            path: `/integrations/${encodeQueryValue(id)}/${name}/${action}`,
            headers,
            body: payload,
          });
        },
      ),
      params,
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('answers 413 problem+json to oversized bodies on every POST route (body limit 64 KiB)', async () => {
    const routes = [
      '/integrations/7/Orders/runs',
      '/integrations/7/Orders/pause',
      '/integrations/7/Orders/resume',
      '/integrations/99/Nope/pause',
    ];
    const types = ['application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream'];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        fc.constantFrom(...types),
        fc.constantFrom(65 * 1024, 256 * 1024, 1024 * 1024),
        fc.boolean(),
        async (path, type, size, chunked) => {
          const payload = type === 'application/json' ? `{"x":"${'a'.repeat(size)}"}` : 'a'.repeat(size);
          const headers: Record<string, string> = { 'content-type': type };
          if (chunked) headers['transfer-encoding'] = 'chunked';
          const response = await check({ method: 'POST', path, headers, body: payload });
          expect([413, 415], `${path} ${type} ${size} → ${response.status}`).toContain(response.status);
        },
      ),
      { numRuns: 16, endOnFailure: true },
    );
  });

  it('answers 404/405 problem+json to wrong methods on every route', async () => {
    const routes = [
      '/integrations',
      '/integrations/7/Orders',
      '/integrations/7/Orders/runs',
      '/integrations/7/Orders/pause',
      '/integrations/7/Orders/resume',
      '/health/live',
      '/health/ready',
      '/docs-json',
      '/',
      '/nothing-here',
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        // BREW is no HTTP method at all: Node's parser refuses it before Fastify sees it
        fc.constantFrom(
          'PUT',
          'DELETE',
          'PATCH',
          'OPTIONS',
          'TRACE',
          'PROPFIND',
          'MKCOL',
          'COPY',
          'LINK',
          'PURGE',
          'SEARCH',
          'BREW',
        ),
        async (path, method) => {
          const response = await check({ method, path });
          expect([method, path, response.status >= 400 && response.status < 500]).toStrictEqual([method, path, true]);
        },
      ),
      params,
    );
    // GET on POST-only routes and POST on GET-only routes
    for (const [method, path] of [
      ['GET', '/integrations/7/Orders/pause'],
      ['GET', '/integrations/7/Orders/resume'],
      ['POST', '/integrations'],
      ['POST', '/integrations/7/Orders'],
      ['POST', '/health/live'],
      ['POST', '/health/ready'],
      ['POST', '/docs-json'],
    ]) {
      const response = await check({ method, path, headers: { 'content-type': 'application/json' }, body: '{}' });
      expect([404, 405], `${method} ${path} → ${response.status} ${response.body.toString()}`).toContain(
        response.status,
      );
    }
    // CONNECT never reaches Fastify (Node hands it to the server's 'connect' event)
    for (const target of ['127.0.0.1:1', '/integrations', 'example.com:443']) {
      const response = await check({ method: 'CONNECT', path: target });
      expect([target, response.status]).toStrictEqual([target, 405]);
    }
  });

  it('serves health and docs, refuses unknown query parameters on the probes and broken URLs on them as problem+json', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/health/live', '/health/ready', '/docs-json'),
        queryText(['x']),
        fc.constantFrom('', '/', '%FF', '%', '/..', '/%00'),
        async (path, query, suffix) => {
          const response = await check({ method: 'GET', path: `${path}${suffix}${query}` });
          // The probes refuse unknown query parameters like every GET of the API (a 400 that `check` has checked
          // as problem+json); the docs ignore them.
          const allowed = path === '/docs-json' || query === '' ? [200] : [200, 400];
          if (suffix === '')
            expect([path, query, allowed.includes(response.status)]).toStrictEqual([path, query, true]);
        },
      ),
      { numRuns: 60, endOnFailure: true },
    );
  });

  it('refuses malformed requests as problem+json: raw bytes, over-long URLs and headers, bad header values', async () => {
    const cases: RawRequest[] = [
      { method: 'GET', path: `/integrations/7/${'a'.repeat(100 * 1024)}` },
      { method: 'GET', path: `/integrations?cursor=${'a'.repeat(20 * 1024)}` },
      { method: 'GET', path: '/integrations', headers: { 'x-big': 'a'.repeat(20 * 1024) } },
      { method: 'GET', path: '/integrations/7/\u00ff\u00fe' },
      { method: 'GET', path: '/integrations/7/Orders', headers: { 'content-length': 'abc' } },
      {
        method: 'POST',
        path: '/integrations/7/Orders/pause',
        headers: { 'content-type': 'application/json', 'content-length': '5', 'transfer-encoding': 'chunked' },
        body: '{}',
      },
      { method: 'GET', path: '/integrations', headers: { authorization: 'Bearer ' + 'x'.repeat(2000) } },
      { method: 'GET', path: '/integrations', headers: { 'x-api-key': 'k'.repeat(2000) } },
    ];
    for (const request of cases) await check(request);
  });

  it('still serves after all of that', async () => {
    const response = await check({ method: 'GET', path: '/health/live' });
    expect(response.status).toBe(200);
    const list = await check({ method: 'GET', path: '/integrations' });
    expect(list.status).toBe(200);
  });
});

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Test } from '@nestjs/testing';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  UpstreamAbortedError,
  UpstreamBodyTooLargeError,
  UpstreamBodyUnreadableError,
  UpstreamConnectionError,
  UpstreamError,
  UpstreamHttpStatusError,
  UpstreamIdentityMismatchError,
  UpstreamNotDtoError,
  UpstreamRequestError,
  UpstreamTimeoutError,
} from '../../../src/upstream/errors';
import { CallStop } from '../../../src/upstream/call-stop';
import { buildIntegrationStartRequest } from '../../../src/upstream/integration-start.request';
import { UpstreamBreakerRegistry } from '../../../src/upstream/breaker';
import { UpstreamClient, type UpstreamClientOptions } from '../../../src/upstream/upstream.client';
import { UpstreamModule } from '../../../src/upstream/upstream.module';
import { expectedStatus } from './support/expected';
import { cleanUp, makeClient, startServer, type Handler } from './support/loopback';

const FIXTURES = resolve(__dirname, '../../fixtures/upstream');
const SEED_JSON = readFileSync(resolve(FIXTURES, 'responses/seed-sample.json'));
const SEED_XML = readFileSync(resolve(FIXTURES, 'responses/seed-sample.xml'));
const SEED_EXPECTED = expectedStatus('seed-sample');
const SEED_KEY = { sourceSystemId: 2, integrationName: 'sample string 1' };
const ENDPOINT = '/api/integration/IntegrationStatus/IntegrationStart';

/**
 * These tests are about one exchange, so they make one attempt (retries, breakers and tokens have
 * their own spec files).
 */
function client(overrides: Partial<UpstreamClientOptions> & { baseUrl: string }): UpstreamClient {
  return makeClient({ retry: { maxAttempts: 1 }, ...overrides });
}

function answer(status: number, contentType: string | null, body: string | Buffer): Handler {
  return (_req, res) => {
    res.statusCode = status;
    if (contentType !== null) res.setHeader('Content-Type', contentType);
    res.end(body);
  };
}

async function failure(promise: Promise<unknown>): Promise<UpstreamError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(UpstreamError);
    return error as UpstreamError;
  }
  throw new Error('expected the call to fail');
}

afterEach(async () => {
  await cleanUp();
});

describe('UpstreamClient: successful calls', () => {
  it('POSTs JSON to {base}/api/integration/IntegrationStatus/IntegrationStart and parses the DTO', async () => {
    // The server holds its answer for 20 ms, noting when it answers, so the call's duration has bounds on the same
    // clock (performance.now): at least from the request's arrival to the answer, at most the caller's own wait.
    let answeredAt = 0;
    const reply = answer(200, 'application/json; charset=utf-8', SEED_JSON);
    const server = await startServer((req, res, received) => {
      setTimeout(() => {
        answeredAt = performance.now();
        reply(req, res, received);
      }, 20);
    });
    const calledAt = performance.now();
    const result = await client({ baseUrl: server.baseUrl }).integrationStart(SEED_KEY);
    const returnedAt = performance.now();

    expect(result.status).toStrictEqual(SEED_EXPECTED);
    expect(result.httpStatus).toBe(200);
    expect(result.contentType).toBe('application/json; charset=utf-8');
    const tenths = (ms: number) => Math.round(ms * 10) / 10;
    expect(result.durationMs).toBe(tenths(result.durationMs));
    expect(result.durationMs).toBeGreaterThanOrEqual(tenths(answeredAt - server.received[0].at));
    expect(result.durationMs).toBeLessThanOrEqual(tenths(returnedAt - calledAt));

    expect(server.received).toHaveLength(1);
    const [request] = server.received;
    expect(request.method).toBe('POST');
    expect(request.url).toBe(ENDPOINT);
    expect(request.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(request.headers.accept).toBe('application/json');
    expect(request.headers.authorization).toBeUndefined();
    expect(request.body).toBe('{"SourceSystemId":2,"IntegrationName":"sample string 1"}');
  });

  it('sends exactly the builder XML with XML Content-Type and Accept, and parses an XML answer', async () => {
    const server = await startServer(answer(200, 'application/xml; charset=utf-8', SEED_XML));
    const result = await client({ baseUrl: server.baseUrl, format: 'xml' }).integrationStart(SEED_KEY);

    expect(result.status).toStrictEqual(SEED_EXPECTED);
    const [request] = server.received;
    expect(request.body).toBe(buildIntegrationStartRequest('xml', SEED_KEY).body);
    expect(request.body).toBe(
      '<IntegrationStartRequest xmlns:i="http://www.w3.org/2001/XMLSchema-instance" xmlns="http://schemas.datacontract.org/2004/07/Gravitate.WCF.Integration.IntegrationStatusModels"><IntegrationName>sample string 1</IntegrationName><SourceSystemId>2</SourceSystemId></IntegrationStartRequest>',
    );
    expect(request.headers['content-type']).toBe('application/xml; charset=utf-8');
    expect(request.headers.accept).toBe('application/xml');
  });

  it('keeps a base path and drops trailing slashes; reads JSON sent as text/html', async () => {
    const server = await startServer(answer(200, 'text/html; charset=utf-8', SEED_JSON));
    const result = await client({ baseUrl: `${server.baseUrl}/gravitate//` }).integrationStart({
      sourceSystemId: 2,
      integrationName: 'SAMPLE STRING 1',
    });
    expect(server.received[0].url).toBe(`/gravitate${ENDPOINT}`);
    expect(result.status).toStrictEqual(SEED_EXPECTED);
    expect(result.contentType).toBe('text/html; charset=utf-8');
  });

  it('keeps longs exact end to end (int64-ids.json)', async () => {
    const server = await startServer(
      answer(200, 'application/json', readFileSync(resolve(FIXTURES, 'responses/int64-ids.json'))),
    );
    const result = await client({ baseUrl: server.baseUrl }).integrationStart({
      sourceSystemId: 12,
      integrationName: 'Invoices',
    });
    expect(result.status.maxSyncDateMaxPkId).toBe('9007199254740993');
    expect(result.status.sourceId).toBe('9223372036854775807');
  });

  it('reuses the keep-alive connection for consecutive calls', async () => {
    const server = await startServer(answer(200, 'application/json', SEED_JSON));
    const c = client({ baseUrl: server.baseUrl });
    await c.integrationStart(SEED_KEY);
    await c.integrationStart(SEED_KEY);
    expect(server.received.map((r) => r.headers.connection)).toStrictEqual(['keep-alive', 'keep-alive']);
    expect(server.received[1].remotePort).toBe(server.received[0].remotePort);
  });
});

describe('UpstreamClient: HTTP status mapping', () => {
  it('maps an ASP.NET error JSON to http_status with its Message, ExceptionType and ExceptionMessage', async () => {
    const body = JSON.stringify({
      Message: 'An error has occurred.',
      ExceptionMessage: 'Timeout expired.\r\nThe timeout period elapsed.',
      ExceptionType: 'System.Data.SqlClient.SqlException',
      StackTrace: '   at Gravitate.Secret.Internals()',
    });
    const server = await startServer(answer(500, 'application/json; charset=utf-8', body));
    const error = await failure(client({ baseUrl: server.baseUrl }).integrationStart(SEED_KEY));

    expect(error).toBeInstanceOf(UpstreamHttpStatusError);
    expect(error.code).toBe('http_status');
    expect(error.httpStatus).toBe(500);
    expect(error.message).toBe(
      'upstream answered HTTP 500 Internal Server Error: Message: An error has occurred.; ExceptionType: System.Data.SqlClient.SqlException; ExceptionMessage: Timeout expired. The timeout period elapsed.',
    );
    expect((error as UpstreamHttpStatusError).aspNet).toStrictEqual({
      message: 'An error has occurred.',
      exceptionMessage: 'Timeout expired. The timeout period elapsed.',
      exceptionType: 'System.Data.SqlClient.SqlException',
    });
  });

  it('maps an ASP.NET error XML too', async () => {
    const server = await startServer(
      answer(
        404,
        'application/xml; charset=utf-8',
        '<Error><Message>No HTTP resource was found.</Message><MessageDetail>No action.</MessageDetail></Error>',
      ),
    );
    const error = await failure(client({ baseUrl: server.baseUrl, format: 'xml' }).integrationStart(SEED_KEY));
    expect(error.message).toBe(
      'upstream answered HTTP 404 Not Found: Message: No HTTP resource was found.; MessageDetail: No action.',
    );
    expect(error.httpStatus).toBe(404);
  });

  it('puts a short control-char-free excerpt of any other body in the message', async () => {
    const page = `<html>\r\n<body>\u001b[31mBad gateway\u0000${'x'.repeat(500)}</body></html>`;
    const server = await startServer(answer(502, 'text/html', page));
    const error = (await failure(
      client({ baseUrl: server.baseUrl }).integrationStart(SEED_KEY),
    )) as UpstreamHttpStatusError;
    expect(error).toBeInstanceOf(UpstreamHttpStatusError);
    expect(error.httpStatus).toBe(502);
    const excerpt = `<html> <body> [31mBad gateway ${'x'.repeat(200 - 30)}…`;
    expect(error.bodyExcerpt).toBe(excerpt);
    expect(error.message).toBe(`upstream answered HTTP 502 Bad Gateway; body: ${excerpt}`);
    expect(error.message).not.toMatch(/[\u0000-\u001f]/);
  });

  it('does not follow redirects', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(302, { Location: 'http://127.0.0.1:1/elsewhere' });
      res.end();
    });
    const error = await failure(client({ baseUrl: server.baseUrl }).integrationStart(SEED_KEY));
    expect(error).toBeInstanceOf(UpstreamHttpStatusError);
    expect(error.message).toBe('upstream answered HTTP 302 Found with an empty body');
    expect(server.received).toHaveLength(1);
  });

  it('maps 401 without a body', async () => {
    const server = await startServer(answer(401, null, ''));
    const error = await failure(client({ baseUrl: server.baseUrl }).integrationStart(SEED_KEY));
    expect(error.message).toBe('upstream answered HTTP 401 Unauthorized with an empty body');
    expect(error.httpStatus).toBe(401);
  });

  it('reports parse failures of a 2xx answer with its status', async () => {
    const server = await startServer(answer(204, null, ''));
    const empty = await failure(client({ baseUrl: server.baseUrl }).integrationStart(SEED_KEY));
    expect(empty).toBeInstanceOf(UpstreamBodyUnreadableError);
    expect(empty.message).toBe('upstream body is empty');
    expect(empty.httpStatus).toBe(204);
  });

  it('maps a JSON null answer to not_a_dto with status 200', async () => {
    const server = await startServer(answer(200, 'application/json', 'null'));
    const error = await failure(client({ baseUrl: server.baseUrl }).integrationStart(SEED_KEY));
    expect(error).toBeInstanceOf(UpstreamNotDtoError);
    expect(error.httpStatus).toBe(200);
  });

  it('maps an HTML login page with status 200 to body_unreadable', async () => {
    const server = await startServer(
      answer(200, 'text/html', '<!DOCTYPE html><html><body><form>Sign in</form></body></html>'),
    );
    const error = await failure(client({ baseUrl: server.baseUrl }).integrationStart(SEED_KEY));
    expect(error).toBeInstanceOf(UpstreamBodyUnreadableError);
    expect(error.message).toMatch(/HTML page/);
  });

  it('refuses a DTO for another integration', async () => {
    const server = await startServer(answer(200, 'application/json', SEED_JSON));
    const error = await failure(
      client({ baseUrl: server.baseUrl }).integrationStart({ sourceSystemId: 2, integrationName: 'sample strïng 1' }),
    );
    expect(error).toBeInstanceOf(UpstreamIdentityMismatchError);
    expect(error.code).toBe('identity_mismatch');
    expect(error.httpStatus).toBe(200);
  });

  it('refuses a key it cannot send before calling', async () => {
    const server = await startServer(answer(200, 'application/xml', SEED_XML));
    const error = await failure(
      client({ baseUrl: server.baseUrl, format: 'xml' }).integrationStart({
        sourceSystemId: 2,
        integrationName: 'a\u0000b',
      }),
    );
    expect(error).toBeInstanceOf(UpstreamRequestError);
    expect(server.received).toHaveLength(0);
  });
});

describe('UpstreamClient: deadlines, connections and limits', () => {
  it('times out a body that trickles in 1 byte per 200 ms (deadline 500 ms)', async () => {
    const timers: NodeJS.Timeout[] = [];
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      let i = 0;
      const tick = () => {
        if (res.destroyed || i >= SEED_JSON.length) return;
        res.write(SEED_JSON.subarray(i, i + 1));
        i += 1;
        timers.push(setTimeout(tick, 200));
      };
      tick();
    });
    const started = performance.now();
    const error = (await failure(
      client({ baseUrl: server.baseUrl, timeoutMs: 500 }).integrationStart(SEED_KEY),
    )) as UpstreamTimeoutError;
    const elapsed = performance.now() - started;
    timers.forEach(clearTimeout);

    expect(error).toBeInstanceOf(UpstreamTimeoutError);
    expect(error.code).toBe('timeout');
    expect(error.timeoutMs).toBe(500);
    expect(error.requestSent).toBe(true);
    expect(error.responseStarted).toBe(true);
    expect(error.message).toBe(
      `upstream ${server.baseUrl}${ENDPOINT} did not answer completely within 500 ms: the request had been sent and the response body was still arriving`,
    );
    expect(elapsed).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(1_000);
  });

  it('times out when no response headers come', async () => {
    const server = await startServer(() => {
      /* never answers */
    });
    const started = performance.now();
    const error = (await failure(
      client({ baseUrl: server.baseUrl, timeoutMs: 300 }).integrationStart(SEED_KEY),
    )) as UpstreamTimeoutError;
    expect(error).toBeInstanceOf(UpstreamTimeoutError);
    expect(error.requestSent).toBe(true);
    expect(error.responseStarted).toBe(false);
    expect(error.message).toMatch(/within 300 ms: the request had been sent but no response headers had arrived$/);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('maps connection refused to a connection error naming host:port', async () => {
    const server = await startServer(answer(200, 'application/json', SEED_JSON));
    const { baseUrl, port } = server;
    await server.close();
    const error = (await failure(client({ baseUrl }).integrationStart(SEED_KEY))) as UpstreamConnectionError;
    expect(error).toBeInstanceOf(UpstreamConnectionError);
    expect(error.code).toBe('connection');
    expect(error.systemCode).toBe('ECONNREFUSED');
    expect(error.hostPort).toBe(`127.0.0.1:${port}`);
    expect(error.message).toBe(`connection to upstream 127.0.0.1:${port} failed: ECONNREFUSED`);
  });

  it('maps a connection reset mid-answer to a connection error', async () => {
    const server = await startServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(SEED_JSON.length) });
      res.write(SEED_JSON.subarray(0, 10));
      setTimeout(() => req.socket.destroy(), 20);
    });
    const error = await failure(client({ baseUrl: server.baseUrl }).integrationStart(SEED_KEY));
    expect(error).toBeInstanceOf(UpstreamConnectionError);
    expect(error.message).toMatch(new RegExp(`^connection to upstream 127\\.0\\.0\\.1:${server.port} failed`));
  });

  it('stops reading a 5 MB streamed body at maxBodyBytes, quickly', async () => {
    let written = 0;
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = () => {
        while (written < 5 * 1024 * 1024) {
          written += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      res.on('error', () => undefined);
      pump();
    });
    const started = performance.now();
    const error = (await failure(
      client({ baseUrl: server.baseUrl, maxBodyBytes: 1_048_576 }).integrationStart(SEED_KEY),
    )) as UpstreamBodyTooLargeError;
    expect(error).toBeInstanceOf(UpstreamBodyTooLargeError);
    expect(error.code).toBe('body_too_large');
    expect(error.limitBytes).toBe(1_048_576);
    expect(error.message).toBe('upstream response body exceeds the limit of 1048576 bytes');
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('refuses a body whose Content-Length is over the limit', async () => {
    const server = await startServer(answer(200, 'application/json', Buffer.alloc(2_000, 0x20)));
    const error = await failure(client({ baseUrl: server.baseUrl, maxBodyBytes: 1_024 }).integrationStart(SEED_KEY));
    expect(error).toBeInstanceOf(UpstreamBodyTooLargeError);
  });

  it('decompresses a gzip answer', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' });
      res.end(gzipSync(SEED_JSON));
    });
    const result = await client({ baseUrl: server.baseUrl }).integrationStart(SEED_KEY);
    expect(result.status).toStrictEqual(SEED_EXPECTED);
  });

  it('applies maxBodyBytes after decompression (a gzip bomb is too large)', async () => {
    const bomb = gzipSync(Buffer.alloc(8 * 1024 * 1024, 0x20));
    expect(bomb.length).toBeLessThan(64 * 1024);
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' });
      res.end(bomb);
    });
    const error = await failure(client({ baseUrl: server.baseUrl }).integrationStart(SEED_KEY));
    expect(error).toBeInstanceOf(UpstreamBodyTooLargeError);
  });

  it('maps a corrupt gzip answer to body_unreadable', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' });
      res.end('this is not gzip');
    });
    const error = await failure(client({ baseUrl: server.baseUrl }).integrationStart(SEED_KEY));
    expect(error).toBeInstanceOf(UpstreamBodyUnreadableError);
    expect(error.message).toBe(`upstream response from 127.0.0.1:${server.port} could not be decoded (Z_DATA_ERROR)`);
  });

  it('stops when the caller aborts, as aborted', async () => {
    const server = await startServer(() => {
      /* never answers */
    });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const error = await failure(
      client({ baseUrl: server.baseUrl }).integrationStart(SEED_KEY, { signal: controller.signal }),
    );
    expect(error).toBeInstanceOf(UpstreamAbortedError);
    expect(error.code).toBe('aborted');
    expect((error as UpstreamAbortedError).requestSent).toBe(true);

    const already = await failure(
      client({ baseUrl: server.baseUrl }).integrationStart(SEED_KEY, { signal: AbortSignal.abort() }),
    );
    expect(already).toBeInstanceOf(UpstreamAbortedError);
    expect(server.received).toHaveLength(1);
  });

  it('stops every call sharing one CallStop when it aborts', async () => {
    const server = await startServer(() => {
      /* never answers */
    });
    const shutdown = new CallStop();
    const upstream = client({ baseUrl: server.baseUrl });
    const calls = [
      upstream.integrationStart(SEED_KEY, { signal: shutdown }),
      upstream.integrationStart(SEED_KEY, { signal: shutdown }),
    ];
    await new Promise((resolve) => setTimeout(resolve, 100));
    shutdown.abort(new Error('shutdown'));
    const errors = await Promise.all(calls.map(failure));
    expect(errors.map((e) => [e.constructor, e.code, (e as UpstreamAbortedError).requestSent])).toStrictEqual([
      [UpstreamAbortedError, 'aborted', true],
      [UpstreamAbortedError, 'aborted', true],
    ]);
    expect(server.received).toHaveLength(2);
  });
});

describe('UpstreamClient: authentication and secrets', () => {
  it('sends a bearer token', async () => {
    const server = await startServer(answer(200, 'application/json', SEED_JSON));
    await client({ baseUrl: server.baseUrl, auth: { kind: 'bearer', token: 'tok-3f9a.b_c~' } }).integrationStart(
      SEED_KEY,
    );
    expect(server.received[0].headers.authorization).toBe('Bearer tok-3f9a.b_c~');
  });

  it('sends Basic credentials, UTF-8 encoded', async () => {
    const server = await startServer(answer(200, 'application/json', SEED_JSON));
    await client({
      baseUrl: server.baseUrl,
      auth: { kind: 'basic', username: 'svc-tidemark', password: 'pä:ss wörd' },
    }).integrationStart(SEED_KEY);
    expect(server.received[0].headers.authorization).toBe(
      `Basic ${Buffer.from('svc-tidemark:pä:ss wörd', 'utf8').toString('base64')}`,
    );
  });

  it('uses URL credentials as Basic auth but never in the request line or in messages', async () => {
    const server = await startServer(answer(500, 'text/plain', 'denied for url-user:url-secret-pw'));
    const base = `http://url-user:url-secret-pw@127.0.0.1:${server.port}/base`;
    const error = await failure(client({ baseUrl: base }).integrationStart(SEED_KEY));
    expect(server.received[0].url).toBe(`/base${ENDPOINT}`);
    expect(server.received[0].headers.authorization).toBe(
      `Basic ${Buffer.from('url-user:url-secret-pw').toString('base64')}`,
    );
    expect(error.message).toBe(
      'upstream answered HTTP 500 Internal Server Error; body: denied for [redacted]:[redacted]',
    );
  });

  it('never puts the token or password in a message, even when the upstream echoes them', async () => {
    const token = 'very-secret-token-123';
    const server = await startServer(
      answer(401, 'application/json', JSON.stringify({ Message: `Token ${token} is expired` })),
    );
    const error = await failure(
      client({ baseUrl: server.baseUrl, auth: { kind: 'bearer', token } }).integrationStart(SEED_KEY),
    );
    expect(error.message).toBe('upstream answered HTTP 401 Unauthorized: Message: Token [redacted] is expired');
    expect(JSON.stringify(error)).not.toContain(token);
    expect(String(error.cause ?? '')).not.toContain(token);

    const timeoutServer = await startServer(() => undefined);
    const timeout = await failure(
      client({ baseUrl: `http://u:hunter2-secret@127.0.0.1:${timeoutServer.port}`, timeoutMs: 100 }).integrationStart(
        SEED_KEY,
      ),
    );
    expect(timeout.message).not.toContain('hunter2-secret');
    expect(timeout.message).toContain(`http://127.0.0.1:${timeoutServer.port}${ENDPOINT}`);
  });

  it('refuses bad options at construction without echoing secrets', () => {
    const base = {
      format: 'json',
      timeoutMs: 1_000,
      defaultTimeZone: 'America/Chicago',
      auth: { kind: 'none' },
    } as const;
    expect(() => new UpstreamClient({ ...base, baseUrl: 'not a url' })).toThrow(TypeError);
    expect(() => new UpstreamClient({ ...base, baseUrl: 'ftp://x' })).toThrow(/http:\/\/ or https:\/\//);
    expect(() => new UpstreamClient({ ...base, baseUrl: 'http://u:secret-pw@h/x?k=v' })).toThrow(
      'upstream baseUrl http://h/x must not have a query string or fragment',
    );
    expect(() => new UpstreamClient({ ...base, baseUrl: 'http://h', defaultTimeZone: 'Nowhere/Else' })).toThrow(
      RangeError,
    );
    expect(() => new UpstreamClient({ ...base, baseUrl: 'http://h', timeoutMs: 0 })).toThrow(RangeError);
    expect(() => new UpstreamClient({ ...base, baseUrl: 'http://h', maxBodyBytes: 1.5 })).toThrow(RangeError);
    expect(
      () => new UpstreamClient({ ...base, baseUrl: 'http://h', auth: { kind: 'bearer', token: 'a b\r\n' } }),
    ).toThrow('upstream bearer token must be non-empty visible ASCII (no spaces or line breaks)');
    expect(
      () =>
        new UpstreamClient({ ...base, baseUrl: 'http://h', auth: { kind: 'basic', username: 'a:b', password: 'p' } }),
    ).toThrow(/RFC 7617/);
    const unsupported = { kind: 'oauth_magic', secret: 'cs-secret' } as unknown as UpstreamClientOptions['auth'];
    expect(() => new UpstreamClient({ ...base, baseUrl: 'http://h', auth: unsupported })).toThrow(
      'upstream auth.kind "oauth_magic" is not supported (supported: "none", "bearer", "basic", "client_credentials")',
    );
    const cc = { kind: 'client_credentials', clientId: 'id', clientSecret: 'cs-secret-value' } as const;
    expect(() => new UpstreamClient({ ...base, baseUrl: 'http://h', auth: { ...cc, clientId: '' } })).toThrow(
      'upstream client_credentials needs a clientId',
    );
    expect(() => new UpstreamClient({ ...base, baseUrl: 'http://h', auth: { ...cc, clientSecret: '' } })).toThrow(
      'upstream client_credentials needs a clientSecret',
    );
    expect(() => new UpstreamClient({ ...base, baseUrl: 'http://h', auth: { ...cc, tokenUrl: '/relative' } })).toThrow(
      'upstream client_credentials tokenUrl is not an absolute URL',
    );
    expect(
      () => new UpstreamClient({ ...base, baseUrl: 'http://h', auth: { ...cc, tokenUrl: 'http://u:p@h/token' } }),
    ).toThrow('upstream client_credentials tokenUrl must not contain credentials');
    const badFormat = { ...cc, requestFormat: 'xml' } as unknown as UpstreamClientOptions['auth'];
    expect(() => new UpstreamClient({ ...base, baseUrl: 'http://h', auth: badFormat })).toThrow(
      'upstream client_credentials requestFormat must be "json" or "form", got "xml"',
    );
    expect(() => new UpstreamClient({ ...base, baseUrl: 'http://h', retry: { maxAttempts: 0 } })).toThrow(
      'upstream retry.maxAttempts must be a positive integer, got 0',
    );
    expect(() => new UpstreamClient({ ...base, baseUrl: 'http://h', retry: { baseMs: -1 } })).toThrow(RangeError);
    expect(() => new UpstreamClient({ ...base, baseUrl: 'http://h', connectTimeoutMs: 0 })).toThrow(
      'upstream connectTimeoutMs must be a positive number of milliseconds, got 0',
    );
    expect(() => new UpstreamClient({ ...base, baseUrl: 'http://h', attemptTimeoutMs: -5 })).toThrow(RangeError);
    expect(
      () =>
        new UpstreamClient(
          { ...base, baseUrl: 'http://h-breaker-test', breaker: { threshold: 0 } },
          new UpstreamBreakerRegistry(),
        ),
    ).toThrow('upstream breaker threshold must be a positive integer, got 0');
  });
});

describe('UpstreamModule', () => {
  const apps: Array<{ close(): Promise<void> }> = [];
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
  });

  it('provides a working UpstreamClient from register()', async () => {
    const server = await startServer(answer(200, 'application/xml', SEED_XML));
    const moduleRef = await Test.createTestingModule({
      imports: [
        UpstreamModule.register({
          baseUrl: server.baseUrl,
          format: 'xml',
          timeoutMs: 2_000,
          defaultTimeZone: 'America/Chicago',
          auth: { kind: 'bearer', token: 'module-token' },
          maxBodyBytes: 65_536,
        }),
      ],
    }).compile();
    apps.push(moduleRef);
    const upstream = moduleRef.get(UpstreamClient);
    expect(upstream).toBeInstanceOf(UpstreamClient);
    const result = await upstream.integrationStart(SEED_KEY);
    expect(result.status).toStrictEqual(SEED_EXPECTED);
    expect(server.received[0].headers.authorization).toBe('Bearer module-token');
  });

  it('provides a working UpstreamClient from registerAsync()', async () => {
    const server = await startServer(answer(200, 'application/json', SEED_JSON));
    const moduleRef = await Test.createTestingModule({
      imports: [
        UpstreamModule.registerAsync({
          useFactory: async () => ({
            baseUrl: server.baseUrl,
            format: 'json' as const,
            timeoutMs: 2_000,
            defaultTimeZone: 'America/Chicago',
            auth: { kind: 'none' as const },
          }),
        }),
      ],
    }).compile();
    apps.push(moduleRef);
    const result = await moduleRef.get(UpstreamClient).integrationStart(SEED_KEY);
    expect(result.status).toStrictEqual(SEED_EXPECTED);
  });
});

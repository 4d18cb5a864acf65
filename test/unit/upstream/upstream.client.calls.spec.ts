import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Test } from '@nestjs/testing';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  UpstreamBodyUnreadableError,
  UpstreamHttpStatusError,
  UpstreamIdentityMismatchError,
  UpstreamNotDtoError,
  UpstreamRequestError,
} from '../../../src/upstream/errors';
import { buildIntegrationStartRequest } from '../../../src/upstream/integration-start.request';
import { UpstreamClient } from '../../../src/upstream/upstream.client';
import { UpstreamModule } from '../../../src/upstream/upstream.module';
import { ENDPOINT, answer, cleanUp, client, failure, startServer } from './support/loopback';
import { FIXTURES, SEED_EXPECTED, SEED_JSON, SEED_KEY, SEED_XML } from './support/seed';

// UpstreamClient: one exchange that succeeds, the mapping of HTTP statuses and bodies to errors, and UpstreamModule.

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

import { createServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  UpstreamBodyTooLargeError,
  UpstreamBodyUnreadableError,
  UpstreamConnectionError,
  UpstreamHttpStatusError,
  UpstreamIdentityMismatchError,
  UpstreamNotDtoError,
  UpstreamRequestError,
} from '../../../src/upstream/errors';
import { answer, cleanUp, failure, makeClient, sequence, startServer } from './support/loopback';
import { ISO_UTC, hangUp, ok, status } from './support/retry-answers';
import { SEED_JSON, SEED_KEY } from './support/seed';

// Retries: which failures are retried, and the attempts recorded.

afterEach(cleanUp);

describe('retries: what is retried', () => {
  it('records the single attempt of a call that succeeds at once', async () => {
    const server = await startServer(ok);
    const result = await makeClient({ baseUrl: server.baseUrl }).integrationStart(SEED_KEY);
    expect(result.outcomeUnknownRetried).toBe(false);
    expect(result.attempts).toHaveLength(1);
    const [attempt] = result.attempts;
    expect(attempt).toStrictEqual({
      attempt: 1,
      startedAt: expect.stringMatching(ISO_UTC),
      durationMs: expect.any(Number),
      httpStatus: 200,
      errorCode: null,
      error: null,
    });
    expect(Math.abs(Date.parse(attempt.startedAt) - Date.now())).toBeLessThan(5_000);
  });

  it.each([502, 503, 504])('retries HTTP %i and records every attempt', async (code) => {
    const server = await startServer(sequence(status(code), status(code), ok));
    const result = await makeClient({ baseUrl: server.baseUrl }).integrationStart(SEED_KEY);

    expect(server.received).toHaveLength(3);
    expect(result.httpStatus).toBe(200);
    expect(result.outcomeUnknownRetried).toBe(false);
    const reason = { 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' }[code];
    expect(
      result.attempts.map(({ attempt, httpStatus, errorCode, error }) => ({ attempt, httpStatus, errorCode, error })),
    ).toStrictEqual([
      {
        attempt: 1,
        httpStatus: code,
        errorCode: 'http_status',
        error: `upstream answered HTTP ${code} ${reason}: Message: An error has occurred.`,
      },
      {
        attempt: 2,
        httpStatus: code,
        errorCode: 'http_status',
        error: `upstream answered HTTP ${code} ${reason}: Message: An error has occurred.`,
      },
      { attempt: 3, httpStatus: 200, errorCode: null, error: null },
    ]);
    for (const a of result.attempts) expect(a.startedAt).toMatch(ISO_UTC);
  });

  it('gives up after maxAttempts with a message summarising the attempts, and attaches them to the error', async () => {
    const server = await startServer(status(503));
    const error = (await failure(
      makeClient({ baseUrl: server.baseUrl }).integrationStart(SEED_KEY),
    )) as UpstreamHttpStatusError;

    expect(server.received).toHaveLength(4);
    expect(error).toBeInstanceOf(UpstreamHttpStatusError);
    expect(error.code).toBe('http_status');
    expect(error.httpStatus).toBe(503);
    expect(error.message).toBe(
      `upstream 127.0.0.1:${server.port} answered 503 Service Unavailable on all 4 attempts (last: Message: An error has occurred.)`,
    );
    expect(error.outcomeUnknownRetried).toBe(false);
    expect(error.attempts!.map((a) => [a.attempt, a.httpStatus, a.errorCode])).toStrictEqual([
      [1, 503, 'http_status'],
      [2, 503, 'http_status'],
      [3, 503, 'http_status'],
      [4, 503, 'http_status'],
    ]);
  });

  it('retries a refused connection until the upstream is back', async () => {
    // Take a free port, free it, and bring a server up on it while the client waits to retry.
    const probe = createServer();
    await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((done) => probe.close(() => done()));

    const call = makeClient({
      baseUrl: `http://127.0.0.1:${port}`,
      retry: { maxAttempts: 4, baseMs: 400, maxMs: 400 },
      random: () => 0.99,
    }).integrationStart(SEED_KEY);
    await new Promise((r) => setTimeout(r, 100));
    const revived = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(SEED_JSON);
    });
    await new Promise<void>((done) => revived.listen(port, '127.0.0.1', done));
    try {
      const result = await call;
      expect(result.attempts.map((a) => [a.httpStatus, a.errorCode, a.error])).toStrictEqual([
        [null, 'connection', `connection to upstream 127.0.0.1:${port} failed: ECONNREFUSED`],
        [200, null, null],
      ]);
      // Refused before anything was sent: the outcome is known.
      expect(result.outcomeUnknownRetried).toBe(false);
    } finally {
      revived.closeAllConnections();
      await new Promise<void>((done) => revived.close(() => done()));
    }
  });

  it('summarises identical connection failures', async () => {
    const server = await startServer(ok);
    const { port } = server;
    await server.close();
    const error = await failure(
      makeClient({
        baseUrl: `http://127.0.0.1:${port}`,
        retry: { maxAttempts: 3, baseMs: 1, maxMs: 1 },
      }).integrationStart(SEED_KEY),
    );
    expect(error).toBeInstanceOf(UpstreamConnectionError);
    expect(error.message).toBe(
      `upstream 127.0.0.1:${port} failed on all 3 attempts: connection ECONNREFUSED (last: connection to upstream 127.0.0.1:${port} failed: ECONNREFUSED)`,
    );
    expect(error.attempts!.map((a) => [a.attempt, a.httpStatus, a.errorCode])).toStrictEqual([
      [1, null, 'connection'],
      [2, null, 'connection'],
      [3, null, 'connection'],
    ]);
    expect(error.outcomeUnknownRetried).toBe(false);
  });

  it('retries a connection dropped after the request was sent, flagging the unknown outcome', async () => {
    const server = await startServer(sequence(hangUp, ok));
    const result = await makeClient({ baseUrl: server.baseUrl }).integrationStart(SEED_KEY);
    expect(server.received).toHaveLength(2);
    expect(result.outcomeUnknownRetried).toBe(true);
    expect(result.attempts[0]).toMatchObject({ attempt: 1, httpStatus: null, errorCode: 'connection' });
    expect(result.attempts[0].error).toMatch(
      new RegExp(`^connection to upstream 127\\.0\\.0\\.1:${server.port} failed: ECONNRESET`),
    );
  });

  it('names every kind of failure when they differ, and says the last one is not retried', async () => {
    const server = await startServer(sequence(status(503), hangUp, answer(404, null, '')));
    const error = await failure(makeClient({ baseUrl: server.baseUrl }).integrationStart(SEED_KEY));
    expect(error).toBeInstanceOf(UpstreamHttpStatusError);
    expect(error.httpStatus).toBe(404);
    expect(error.message).toBe(
      `upstream 127.0.0.1:${server.port} failed on 3 attempts (503 Service Unavailable, connection ECONNRESET, 404 Not Found); ` +
        'the last failure is not retried (last: empty body)',
    );
    expect(error.outcomeUnknownRetried).toBe(true);
  });

  it.each([400, 401, 403, 404, 409, 422, 500, 501])('does not retry HTTP %i', async (code) => {
    const server = await startServer(status(code));
    const error = await failure(makeClient({ baseUrl: server.baseUrl }).integrationStart(SEED_KEY));
    expect(server.received).toHaveLength(1);
    expect(error).toBeInstanceOf(UpstreamHttpStatusError);
    expect(error.httpStatus).toBe(code);
    // A single attempt keeps the plain message.
    expect(error.message).toMatch(new RegExp(`^upstream answered HTTP ${code} .*: Message: An error has occurred\\.$`));
    expect(error.attempts).toHaveLength(1);
    expect(error.attempts![0]).toMatchObject({ attempt: 1, httpStatus: code, errorCode: 'http_status' });
    expect(error.outcomeUnknownRetried).toBe(false);
  });

  it.each([
    ['an unreadable body', answer(200, 'text/html', '<!DOCTYPE html><html></html>'), UpstreamBodyUnreadableError],
    ['a JSON null', answer(200, 'application/json', 'null'), UpstreamNotDtoError],
    [
      'a DTO with a missing field',
      answer(200, 'application/json', '{"IntegrationName":"sample string 1"}'),
      UpstreamNotDtoError,
    ],
    [
      'a DTO about another integration',
      answer(200, 'application/json', SEED_JSON.toString().replace('"SourceSystemId": 2', '"SourceSystemId": 3')),
      UpstreamIdentityMismatchError,
    ],
    ['a body over the limit', answer(200, 'application/json', Buffer.alloc(4_096, 0x20)), UpstreamBodyTooLargeError],
  ] as const)('does not retry %s', async (_name, handler, type) => {
    const server = await startServer(handler);
    const error = await failure(
      makeClient({ baseUrl: server.baseUrl, maxBodyBytes: 2_048 }).integrationStart(SEED_KEY),
    );
    expect(error).toBeInstanceOf(type);
    expect(server.received).toHaveLength(1);
    expect(error.attempts).toHaveLength(1);
    expect(error.attempts![0].errorCode).toBe(error.code);
    expect(error.attempts![0].httpStatus).toBe(200);
  });

  it('attaches an empty attempt list to a request that cannot be built', async () => {
    const server = await startServer(ok);
    const error = await failure(
      makeClient({ baseUrl: server.baseUrl, format: 'xml' }).integrationStart({
        sourceSystemId: 2,
        integrationName: 'a\u0000b',
      }),
    );
    expect(error).toBeInstanceOf(UpstreamRequestError);
    expect(error.attempts).toStrictEqual([]);
    expect(error.outcomeUnknownRetried).toBe(false);
    expect(server.received).toHaveLength(0);
  });
});

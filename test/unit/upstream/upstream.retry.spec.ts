import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import {
  UpstreamAbortedError,
  UpstreamBodyTooLargeError,
  UpstreamBodyUnreadableError,
  UpstreamConnectionError,
  UpstreamHttpStatusError,
  UpstreamIdentityMismatchError,
  UpstreamNotDtoError,
  UpstreamRequestError,
  UpstreamTimeoutError,
} from '../../../src/upstream/errors';
import { parseRetryAfter } from '../../../src/upstream/retry-plan';
import {
  ENDPOINT,
  type Handler,
  answer,
  cleanUp,
  failure,
  hangingListener,
  makeClient,
  sequence,
  silent,
  startServer,
} from './support/loopback';

const FIXTURES = resolve(__dirname, '../../fixtures/upstream');
const SEED_JSON = readFileSync(resolve(FIXTURES, 'responses/seed-sample.json'));
const SEED_KEY = { sourceSystemId: 2, integrationName: 'sample string 1' };
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const ASPNET_500 = JSON.stringify({ Message: 'An error has occurred.' });

const ok: Handler = answer(200, 'application/json; charset=utf-8', SEED_JSON);
const status = (code: number, headers: Record<string, string> = {}): Handler =>
  answer(code, 'application/json; charset=utf-8', ASPNET_500, headers);
/** Reads the request, then drops the connection without answering. */
const hangUp: Handler = (req) => req.socket.destroy();

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

describe('retries: backoff and Retry-After', () => {
  it('waits a full-jitter exponential backoff drawn from the injected random source', async () => {
    const server = await startServer(sequence(status(503), status(503), status(503), ok));
    const draws: number[] = [];
    const result = await makeClient({
      baseUrl: server.baseUrl,
      retry: { maxAttempts: 4, baseMs: 100, maxMs: 250 },
      random: () => {
        draws.push(0.999);
        return 0.999;
      },
    }).integrationStart(SEED_KEY);
    expect(result.attempts).toHaveLength(4);
    expect(draws).toHaveLength(3);
    // floor(0.999 * min(250, 100 * 2^(n-1))): 99, 199, 249 ms.
    const gaps = server.received.slice(1).map((r, i) => r.at - server.received[i].at);
    const waits = [99, 199, 249];
    gaps.forEach((gap, i) => {
      expect(gap).toBeGreaterThanOrEqual(waits[i] - 5);
      expect(gap).toBeLessThan(waits[i] + 150);
    });
  });

  it('waits nothing with a zero draw', async () => {
    const server = await startServer(sequence(status(502), ok));
    const started = performance.now();
    await makeClient({
      baseUrl: server.baseUrl,
      retry: { baseMs: 10_000, maxMs: 10_000 },
      random: () => 0,
    }).integrationStart(SEED_KEY);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('retries 429 after Retry-After: 1 (seconds) and records it', async () => {
    const server = await startServer(sequence(status(429, { 'Retry-After': '1' }), ok));
    const result = await makeClient({ baseUrl: server.baseUrl, random: () => 0 }).integrationStart(SEED_KEY);
    expect(server.received).toHaveLength(2);
    const gap = server.received[1].at - server.received[0].at;
    expect(gap).toBeGreaterThanOrEqual(990);
    expect(gap).toBeLessThan(1_500);
    expect(result.attempts[0]).toMatchObject({
      attempt: 1,
      httpStatus: 429,
      errorCode: 'http_status',
      retryAfterMs: 1_000,
    });
    expect(result.attempts[1]).not.toHaveProperty('retryAfterMs');
  });

  it('retries 429 after a Retry-After HTTP-date', async () => {
    // HTTP-dates have whole seconds: 2 s ahead means a wait of more than 1 s and at most 2 s.
    const server = await startServer((req, res, received) => {
      if (server.received.length === 1) {
        status(429, { 'Retry-After': new Date(Date.now() + 2_000).toUTCString() })(req, res, received);
      } else ok(req, res, received);
    });
    const result = await makeClient({ baseUrl: server.baseUrl, random: () => 0 }).integrationStart(SEED_KEY);
    const gap = server.received[1].at - server.received[0].at;
    expect(gap).toBeGreaterThanOrEqual(950);
    expect(gap).toBeLessThan(2_500);
    expect(result.attempts[0].retryAfterMs).toBeGreaterThan(950);
    expect(result.attempts[0].retryAfterMs).toBeLessThanOrEqual(2_000);
  });

  it('honours Retry-After on 503 too', async () => {
    const server = await startServer(sequence(status(503, { 'Retry-After': '0' }), ok));
    const result = await makeClient({
      baseUrl: server.baseUrl,
      retry: { baseMs: 10_000, maxMs: 10_000 },
      random: () => 0.99,
    }).integrationStart(SEED_KEY);
    expect(result.attempts[0].retryAfterMs).toBe(0);
    // The backoff (~9.9 s) was replaced by Retry-After: 0.
    expect(server.received[1].at - server.received[0].at).toBeLessThan(1_000);
  });

  it('retries 429 without Retry-After after the normal backoff', async () => {
    const server = await startServer(sequence(status(429), ok));
    const result = await makeClient({ baseUrl: server.baseUrl }).integrationStart(SEED_KEY);
    expect(result.attempts.map((a) => a.httpStatus)).toStrictEqual([429, 200]);
    expect(result.attempts[0]).not.toHaveProperty('retryAfterMs');
  });

  it('gives up at once when Retry-After is longer than what is left of the deadline', async () => {
    const server = await startServer(status(429, { 'Retry-After': '30' }));
    const started = performance.now();
    const error = (await failure(
      makeClient({ baseUrl: server.baseUrl, timeoutMs: 2_000 }).integrationStart(SEED_KEY),
    )) as UpstreamHttpStatusError;
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(server.received).toHaveLength(1);
    expect(error.httpStatus).toBe(429);
    expect(error.retryAfterMs).toBe(30_000);
    expect(error.message).toMatch(
      new RegExp(
        `^upstream 127\\.0\\.0\\.1:${server.port} answered 429 Too Many Requests on 1 attempt; ` +
          'gave up: Retry-After asked for 30000 ms but only \\d+ ms of the 2000 ms deadline remained ' +
          '\\(last: Message: An error has occurred\\.\\)$',
      ),
    );
    expect(error.attempts).toHaveLength(1);
    expect(error.attempts![0].retryAfterMs).toBe(30_000);
  });
});

describe('retries: the deadline covers the whole call', () => {
  it('stops retrying when the next wait would not leave time for an attempt, within timeoutMs', async () => {
    const server = await startServer(status(503));
    const started = performance.now();
    // Waits of 495 ms; an attempt needs min(1 s, 1500/10) = 150 ms after its wait: attempts at ~0, ~500, ~1000 ms.
    const error = await failure(
      makeClient({
        baseUrl: server.baseUrl,
        timeoutMs: 1_500,
        retry: { maxAttempts: 10, baseMs: 500, maxMs: 500 },
        random: () => 0.99,
      }).integrationStart(SEED_KEY),
    );
    const elapsed = performance.now() - started;
    expect(elapsed).toBeLessThan(1_500);
    expect(server.received).toHaveLength(3);
    expect(error).toBeInstanceOf(UpstreamHttpStatusError);
    expect(error.message).toMatch(
      new RegExp(
        `^upstream 127\\.0\\.0\\.1:${server.port} answered 503 Service Unavailable on 3 attempts; ` +
          'gave up: the next wait of 495 ms would leave too little of the 1500 ms deadline \\(\\d+ ms remained\\) ' +
          '\\(last: Message: An error has occurred\\.\\)$',
      ),
    );
    expect(error.attempts).toHaveLength(3);
  });

  it('ends a slow attempt at the call deadline, after earlier attempts, as a timeout', async () => {
    const server = await startServer(sequence(status(503), silent));
    const started = performance.now();
    const error = (await failure(
      makeClient({ baseUrl: server.baseUrl, timeoutMs: 600 }).integrationStart(SEED_KEY),
    )) as UpstreamTimeoutError;
    expect(performance.now() - started).toBeLessThan(900);
    expect(error).toBeInstanceOf(UpstreamTimeoutError);
    expect(error.timeoutMs).toBe(600);
    expect(error.message).toBe(
      `upstream 127.0.0.1:${server.port} failed on 2 attempts (503 Service Unavailable, timeout) ` +
        `(last: upstream ${server.baseUrl}${ENDPOINT} did not answer completely within 600 ms: the request had been sent but no response headers had arrived)`,
    );
    // The deadline ended the call: nothing was retried after the timeout.
    expect(error.outcomeUnknownRetried).toBe(false);
  });

  it('retries an attempt that timed out after sending (attemptTimeoutMs) and flags outcomeUnknownRetried', async () => {
    const server = await startServer(sequence(silent, ok));
    const result = await makeClient({
      baseUrl: server.baseUrl,
      timeoutMs: 3_000,
      attemptTimeoutMs: 200,
    }).integrationStart(SEED_KEY);
    expect(server.received).toHaveLength(2);
    expect(result.outcomeUnknownRetried).toBe(true);
    expect(result.attempts.map((a) => [a.httpStatus, a.errorCode, a.error])).toStrictEqual([
      [
        null,
        'timeout',
        `upstream ${server.baseUrl}${ENDPOINT} did not answer completely within 200 ms: the request had been sent but no response headers had arrived`,
      ],
      [200, null, null],
    ]);
    expect(result.attempts[0].durationMs).toBeGreaterThanOrEqual(190);
  });

  it('fails with outcomeUnknownRetried when every attempt times out after sending', async () => {
    const server = await startServer(silent);
    const error = await failure(
      makeClient({ baseUrl: server.baseUrl, timeoutMs: 2_000, attemptTimeoutMs: 150 }).integrationStart(SEED_KEY),
    );
    expect(error).toBeInstanceOf(UpstreamTimeoutError);
    expect(server.received).toHaveLength(4);
    expect(error.outcomeUnknownRetried).toBe(true);
    expect(error.message).toBe(
      `upstream 127.0.0.1:${server.port} failed on all 4 attempts: timeout ` +
        `(last: upstream ${server.baseUrl}${ENDPOINT} did not answer completely within 150 ms: the request had been sent but no response headers had arrived)`,
    );
  });

  it('cancels promptly during a wait between attempts', async () => {
    const server = await startServer(status(503, { 'Retry-After': '3' }));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 150);
    const started = performance.now();
    const error = await failure(
      makeClient({ baseUrl: server.baseUrl, timeoutMs: 10_000 }).integrationStart(SEED_KEY, {
        signal: controller.signal,
      }),
    );
    expect(performance.now() - started).toBeLessThan(600);
    expect(error).toBeInstanceOf(UpstreamAbortedError);
    expect(error.message).toBe(
      `upstream 127.0.0.1:${server.port} answered 503 Service Unavailable on 1 attempt; then the call was cancelled before the next attempt ` +
        '(last: upstream answered HTTP 503 Service Unavailable: Message: An error has occurred.)',
    );
    expect(error.attempts).toHaveLength(1);
    // The pending retry never happens.
    await new Promise((r) => setTimeout(r, 50));
    expect(server.received).toHaveLength(1);
  });
});

describe('connect deadline', () => {
  it('gives up a connect that hangs after connectTimeoutMs, as a retryable connection error', async (ctx) => {
    const listener = await hangingListener();
    // Null when this kernel completed every connect: the hang cannot be produced on loopback here.
    if (listener === null) return ctx.skip('loopback connects never hung on this kernel');
    const started = performance.now();
    const error = (await failure(
      makeClient({
        baseUrl: `http://127.0.0.1:${listener.port}`,
        connectTimeoutMs: 150,
        timeoutMs: 5_000,
        retry: { maxAttempts: 2, baseMs: 1, maxMs: 1 },
      }).integrationStart(SEED_KEY),
    )) as UpstreamConnectionError;
    const elapsed = performance.now() - started;
    expect(error).toBeInstanceOf(UpstreamConnectionError);
    expect(error.systemCode).toBe('ETIMEDOUT');
    expect(error.message).toBe(
      `upstream 127.0.0.1:${listener.port} failed on all 2 attempts: connection ETIMEDOUT ` +
        `(last: connection to upstream 127.0.0.1:${listener.port} failed: ETIMEDOUT (no connection within the connect timeout of 150 ms))`,
    );
    expect(error.attempts!.map((a) => a.errorCode)).toStrictEqual(['connection', 'connection']);
    for (const a of error.attempts!) {
      expect(a.durationMs).toBeGreaterThanOrEqual(140);
      expect(a.durationMs).toBeLessThan(1_000);
    }
    // Nothing was sent: the outcome is known.
    expect(error.outcomeUnknownRetried).toBe(false);
    expect(elapsed).toBeLessThan(2_000);
  });

  it('lets the call deadline win over a longer connect timeout', async (ctx) => {
    const listener = await hangingListener();
    if (listener === null) return ctx.skip('loopback connects never hung on this kernel');
    const started = performance.now();
    const error = (await failure(
      makeClient({
        baseUrl: `http://127.0.0.1:${listener.port}`,
        connectTimeoutMs: 5_000,
        timeoutMs: 300,
      }).integrationStart(SEED_KEY),
    )) as UpstreamTimeoutError;
    // The deadline stops a connect that hangs, rather than waiting for the connect timeout.
    expect(performance.now() - started).toBeLessThan(1_500);
    expect(error).toBeInstanceOf(UpstreamTimeoutError);
    expect(error.requestSent).toBe(false);
    expect(error.message).toMatch(/within 300 ms: the request had not been sent yet \(connecting or sending\)$/);
  });

  it('a caller that cancels during a hanging connect gets its answer at once', async (ctx) => {
    const listener = await hangingListener();
    if (listener === null) return ctx.skip('loopback connects never hung on this kernel');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const started = performance.now();
    const error = await failure(
      makeClient({
        baseUrl: `http://127.0.0.1:${listener.port}`,
        connectTimeoutMs: 5_000,
        timeoutMs: 3_000,
      }).integrationStart(SEED_KEY, {
        signal: controller.signal,
      }),
    );
    expect(performance.now() - started).toBeLessThan(1_500);
    expect(error).toBeInstanceOf(UpstreamAbortedError);
  });

  it('connects normally within the connect deadline and reuses the kept-alive connection', async () => {
    const server = await startServer(ok);
    const c = makeClient({ baseUrl: server.baseUrl, connectTimeoutMs: 1_000 });
    await c.integrationStart(SEED_KEY);
    await c.integrationStart(SEED_KEY);
    expect(server.received[1].remotePort).toBe(server.received[0].remotePort);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-12-10T14:00:00Z');
  it.each([
    ['0', 0],
    ['1', 1_000],
    [' 120 ', 120_000],
    ['Wed, 10 Dec 2025 14:00:05 GMT', 5_000],
    ['Wed, 10 Dec 2025 13:59:00 GMT', 0],
    ['Wednesday, 10-Dec-25 14:00:02 GMT', 2_000],
    ['Wed Dec 10 14:00:03 2025', 3_000],
  ])('reads %j as %i ms', (text, ms) => {
    expect(parseRetryAfter(text, now)).toBe(ms);
  });

  it.each([undefined, '', '-1', '1.5', 'soon', '2025-12-10T14:00:05Z', 'Wed, 10 Dec 2025 14:00:05 +0000'])(
    'ignores %j',
    (text) => {
      expect(parseRetryAfter(text, now)).toBeUndefined();
    },
  );
});

import { afterEach, describe, expect, it } from 'vitest';
import {
  UpstreamAbortedError,
  UpstreamConnectionError,
  UpstreamHttpStatusError,
  UpstreamTimeoutError,
} from '../../../src/upstream/errors';
import {
  ENDPOINT,
  cleanUp,
  failure,
  hangingListener,
  makeClient,
  sequence,
  silent,
  startServer,
} from './support/loopback';
import { ok, status } from './support/retry-answers';
import { SEED_KEY } from './support/seed';

// Retries: the call deadline over all attempts, and the connect deadline.

afterEach(cleanUp);

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

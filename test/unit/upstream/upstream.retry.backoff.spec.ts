import { afterEach, describe, expect, it } from 'vitest';
import { UpstreamHttpStatusError } from '../../../src/upstream/errors';
import { parseRetryAfter } from '../../../src/upstream/retry-plan';
import { cleanUp, failure, makeClient, sequence, startServer } from './support/loopback';
import { ok, status } from './support/retry-answers';
import { SEED_KEY } from './support/seed';

// Retries: the backoff between attempts, Retry-After, and parseRetryAfter.

afterEach(cleanUp);

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

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Test } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  UpstreamBreakerRegistry,
  countsForBreaker,
  defaultUpstreamBreakerRegistry,
} from '../../../src/upstream/breaker';
import {
  UpstreamAbortedError,
  UpstreamBreakerOpenError,
  UpstreamConnectionError,
  UpstreamError,
  UpstreamHttpStatusError,
  UpstreamIdentityMismatchError,
  UpstreamTimeoutError,
  UpstreamTokenError,
} from '../../../src/upstream/errors';
import { UpstreamClient, type UpstreamClientOptions } from '../../../src/upstream/upstream.client';
import { UpstreamModule } from '../../../src/upstream/upstream.module';
import { type Handler, answer, cleanUp, failure, makeClient, silent, startServer } from './support/loopback';

const FIXTURES = resolve(__dirname, '../../fixtures/upstream');
const SEED_JSON = readFileSync(resolve(FIXTURES, 'responses/seed-sample.json'));
const SEED_KEY = { sourceSystemId: 2, integrationName: 'sample string 1' };
const OTHER_KEY = { sourceSystemId: 2, integrationName: 'another one' };

const ok: Handler = answer(200, 'application/json', SEED_JSON);
const unavailable: Handler = answer(503, 'application/json', JSON.stringify({ Message: 'An error has occurred.' }));

/** A server whose behaviour a test switches between calls. */
async function switchable(initial: Handler) {
  let current = initial;
  const server = await startServer((req, res, received) => current(req, res, received));
  return { server, set: (h: Handler) => (current = h) };
}

afterEach(cleanUp);

describe('circuit breaker: opening and failing fast', () => {
  it('opens after `threshold` consecutive failed runs (a run includes its retries), then fails fast without a request', async () => {
    const server = await startServer(unavailable);
    const c = makeClient({
      baseUrl: server.baseUrl,
      retry: { maxAttempts: 2, baseMs: 1, maxMs: 1 },
      breaker: { threshold: 3, halfOpenAfterMs: 60_000 },
    });
    expect(c.breakerState()).toBe('closed');
    for (let run = 1; run <= 3; run += 1) {
      const error = await failure(c.integrationStart(SEED_KEY));
      expect(error).toBeInstanceOf(UpstreamHttpStatusError);
      expect(c.breakerState()).toBe(run < 3 ? 'closed' : 'open');
    }
    expect(server.received).toHaveLength(6);

    const started = performance.now();
    const fast = (await failure(c.integrationStart(SEED_KEY))) as UpstreamBreakerOpenError;
    expect(performance.now() - started).toBeLessThan(50);
    expect(server.received).toHaveLength(6);
    expect(fast).toBeInstanceOf(UpstreamBreakerOpenError);
    expect(fast.code).toBe('breaker_open');
    expect(fast.baseUrl).toBe(server.baseUrl);
    expect(fast.attempts).toStrictEqual([]);
    expect(fast.outcomeUnknownRetried).toBe(false);
    expect(fast.httpStatus).toBeUndefined();
    expect(Date.parse(fast.halfOpenAt!) - Date.now()).toBeGreaterThan(59_000);
    expect(fast.message).toBe(
      `upstream 127.0.0.1:${server.port} was not called: its circuit breaker is open after 3 consecutive failed runs; ` +
        `next trial run after ${fast.halfOpenAt} (last failure: upstream 127.0.0.1:${server.port} answered 503 Service Unavailable ` +
        'on all 2 attempts (last: Message: An error has occurred.))',
    );
    // Every integration of the upstream is cut off, not only the one that failed.
    expect(await failure(c.integrationStart(OTHER_KEY))).toBeInstanceOf(UpstreamBreakerOpenError);
    expect(server.received).toHaveLength(6);
    expect(c.breakerSnapshot()).toStrictEqual({
      baseUrl: server.baseUrl,
      state: 'open',
      consecutiveFailures: 3,
      threshold: 3,
      halfOpenAfterMs: 60_000,
      openedAt: expect.stringMatching(/Z$/),
    });
  });

  it('a success resets the count of consecutive failures', async () => {
    const { server, set } = await switchable(unavailable);
    const c = makeClient({ baseUrl: server.baseUrl, retry: { maxAttempts: 1 }, breaker: { threshold: 3 } });
    await failure(c.integrationStart(SEED_KEY));
    await failure(c.integrationStart(SEED_KEY));
    set(ok);
    await c.integrationStart(SEED_KEY);
    expect(c.breakerSnapshot().consecutiveFailures).toBe(0);
    set(unavailable);
    await failure(c.integrationStart(SEED_KEY));
    await failure(c.integrationStart(SEED_KEY));
    expect(c.breakerState()).toBe('closed');
    await failure(c.integrationStart(SEED_KEY));
    expect(c.breakerState()).toBe('open');
  });

  it('a run that succeeds after retries is a success', async () => {
    let n = 0;
    const server = await startServer((req, res, r) => (++n % 2 === 1 ? unavailable : ok)(req, res, r));
    const c = makeClient({ baseUrl: server.baseUrl, breaker: { threshold: 1 } });
    for (let i = 0; i < 3; i += 1) await c.integrationStart(SEED_KEY);
    expect(c.breakerState()).toBe('closed');
    expect(server.received).toHaveLength(6);
  });
});

describe('circuit breaker: half-open', () => {
  it('half-opens after halfOpenAfterMs and closes when the trial run succeeds', async () => {
    const { server, set } = await switchable(unavailable);
    const c = makeClient({
      baseUrl: server.baseUrl,
      retry: { maxAttempts: 1 },
      breaker: { threshold: 2, halfOpenAfterMs: 200 },
    });
    await failure(c.integrationStart(SEED_KEY));
    await failure(c.integrationStart(SEED_KEY));
    expect(c.breakerState()).toBe('open');
    expect(await failure(c.integrationStart(SEED_KEY))).toBeInstanceOf(UpstreamBreakerOpenError);

    await new Promise((r) => setTimeout(r, 250));
    expect(c.breakerState()).toBe('half_open');
    set(ok);
    const result = await c.integrationStart(SEED_KEY);
    expect(result.httpStatus).toBe(200);
    expect(c.breakerState()).toBe('closed');
    expect(c.breakerSnapshot()).toMatchObject({ state: 'closed', consecutiveFailures: 0, openedAt: null });
    expect(server.received).toHaveLength(3);
  });

  it('opens again when the trial run fails, and fails fast again', async () => {
    const server = await startServer(unavailable);
    const c = makeClient({
      baseUrl: server.baseUrl,
      retry: { maxAttempts: 1 },
      breaker: { threshold: 1, halfOpenAfterMs: 150 },
    });
    await failure(c.integrationStart(SEED_KEY));
    expect(c.breakerState()).toBe('open');
    await new Promise((r) => setTimeout(r, 200));
    expect(c.breakerState()).toBe('half_open');
    expect(await failure(c.integrationStart(SEED_KEY))).toBeInstanceOf(UpstreamHttpStatusError);
    expect(c.breakerState()).toBe('open');
    expect(await failure(c.integrationStart(SEED_KEY))).toBeInstanceOf(UpstreamBreakerOpenError);
    expect(server.received).toHaveLength(2);
  });

  it('lets exactly one trial run through; concurrent calls wait for its outcome', async () => {
    const { server, set } = await switchable(unavailable);
    const c = makeClient({
      baseUrl: server.baseUrl,
      retry: { maxAttempts: 1 },
      breaker: { threshold: 1, halfOpenAfterMs: 100 },
    });
    await failure(c.integrationStart(SEED_KEY));
    await new Promise((r) => setTimeout(r, 150));
    set((req, res, r) => setTimeout(() => ok(req, res, r), 100));
    const results = await Promise.all([
      c.integrationStart(SEED_KEY),
      c.integrationStart(SEED_KEY),
      c.integrationStart(SEED_KEY),
    ]);
    expect(results.map((r) => r.httpStatus)).toStrictEqual([200, 200, 200]);
    // The trial went alone; the others went after it closed the breaker.
    const trialAt = server.received[1].at;
    expect(server.received.slice(2).every((r) => r.at >= trialAt + 90)).toBe(true);
    expect(c.breakerState()).toBe('closed');
  });
});

describe('circuit breaker: what counts', () => {
  const counted: Array<[string, Handler, Partial<UpstreamClientOptions>]> = [
    ['HTTP 500', answer(500, 'application/json', '{"Message":"x"}'), {}],
    ['HTTP 503', unavailable, {}],
    ['HTTP 429', answer(429, 'text/plain', 'slow down'), {}],
    ['a timeout', silent, { timeoutMs: 150 }],
    ['an unreadable body', answer(200, 'text/html', '<!DOCTYPE html><p>maintenance</p>'), {}],
    ['a dropped connection', (req) => req.socket.destroy(), {}],
  ];
  it.each(counted)('%s counts', async (_name, handler, options) => {
    const server = await startServer(handler);
    const c = makeClient({ baseUrl: server.baseUrl, retry: { maxAttempts: 1 }, breaker: { threshold: 1 }, ...options });
    await failure(c.integrationStart(SEED_KEY));
    expect(c.breakerState()).toBe('open');
  });

  it('a refused connection counts', async () => {
    const server = await startServer(ok);
    const { port } = server;
    await server.close();
    const c = makeClient({ baseUrl: `http://127.0.0.1:${port}`, retry: { maxAttempts: 1 }, breaker: { threshold: 1 } });
    expect(await failure(c.integrationStart(SEED_KEY))).toBeInstanceOf(UpstreamConnectionError);
    expect(c.breakerState()).toBe('open');
  });

  const notCounted: Array<[string, Handler]> = [
    ['HTTP 400', answer(400, 'application/json', '{"Message":"The request is invalid."}')],
    ['HTTP 401', answer(401, null, '')],
    ['HTTP 404', answer(404, null, '')],
    ['HTTP 422', answer(422, null, '')],
    [
      'an identity mismatch',
      answer(200, 'application/json', SEED_JSON.toString().replace('sample string 1', 'someone else')),
    ],
    // One integration's bad data must not open the breaker that every integration behind the base URL shares.
    ['a body that is not a DTO', answer(200, 'application/json', '[]')],
    [
      'a DTO with a bad date',
      answer(200, 'application/json', SEED_JSON.toString().replace('08:22:52.8100855', '08:22:52.81008551')),
    ],
  ];
  it.each(notCounted)('%s does not count (the caller’s problem, or one integration’s data)', async (_name, handler) => {
    const server = await startServer(handler);
    const c = makeClient({ baseUrl: server.baseUrl, retry: { maxAttempts: 1 }, breaker: { threshold: 1 } });
    for (let i = 0; i < 3; i += 1) await failure(c.integrationStart(SEED_KEY));
    expect(c.breakerState()).toBe('closed');
    expect(server.received).toHaveLength(3);
  });

  it('a 4xx neither counts nor resets the count', async () => {
    const { server, set } = await switchable(unavailable);
    const c = makeClient({ baseUrl: server.baseUrl, retry: { maxAttempts: 1 }, breaker: { threshold: 2 } });
    await failure(c.integrationStart(SEED_KEY));
    set(answer(404, null, ''));
    await failure(c.integrationStart(SEED_KEY));
    expect(c.breakerSnapshot()).toMatchObject({ state: 'closed', consecutiveFailures: 1 });
    set(unavailable);
    await failure(c.integrationStart(SEED_KEY));
    expect(c.breakerState()).toBe('open');
  });

  it('a cancelled call does not count', async () => {
    const server = await startServer(silent);
    const c = makeClient({ baseUrl: server.baseUrl, breaker: { threshold: 1 } });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    expect(await failure(c.integrationStart(SEED_KEY, { signal: controller.signal }))).toBeInstanceOf(
      UpstreamAbortedError,
    );
    expect(c.breakerState()).toBe('closed');
  });

  it('a half-open trial that ends with a 4xx closes the breaker (the upstream answered)', async () => {
    const { server, set } = await switchable(unavailable);
    const c = makeClient({
      baseUrl: server.baseUrl,
      retry: { maxAttempts: 1 },
      breaker: { threshold: 1, halfOpenAfterMs: 100 },
    });
    await failure(c.integrationStart(SEED_KEY));
    await new Promise((r) => setTimeout(r, 150));
    set(answer(404, null, ''));
    await failure(c.integrationStart(SEED_KEY));
    expect(c.breakerState()).toBe('closed');
  });

  it('countsForBreaker decides by code and status', () => {
    const http = (status: number) => new UpstreamHttpStatusError('x', { httpStatus: status });
    expect(countsForBreaker(http(502))).toBe(true);
    expect(countsForBreaker(http(429))).toBe(true);
    expect(countsForBreaker(http(409))).toBe(false);
    expect(
      countsForBreaker(
        new UpstreamTimeoutError({ timeoutMs: 1, target: 'x', requestSent: true, responseStarted: false }),
      ),
    ).toBe(true);
    expect(countsForBreaker(new UpstreamTokenError('x', { httpStatus: 503 }))).toBe(true);
    expect(countsForBreaker(new UpstreamTokenError('x', { httpStatus: 400, oauthError: 'invalid_client' }))).toBe(
      false,
    );
    expect(
      countsForBreaker(
        new UpstreamIdentityMismatchError(
          { sourceSystemId: 1, integrationName: 'a' },
          { sourceSystemId: 2, integrationName: 'b' },
        ),
      ),
    ).toBe(false);
    expect(countsForBreaker(new Error('not ours'))).toBe(false);
    // A run that made no request says nothing about the upstream.
    const noRequest: UpstreamError = new UpstreamTimeoutError({
      timeoutMs: 1,
      target: 'x',
      requestSent: false,
      responseStarted: false,
    });
    noRequest.attempts = [];
    expect(countsForBreaker(noRequest)).toBe(false);
  });
});

describe('circuit breaker: one per upstream base URL', () => {
  it('is shared by clients of the same base URL, credentials and trailing slashes aside', async () => {
    const server = await startServer(unavailable);
    const registry = new UpstreamBreakerRegistry();
    const plain = makeClient(
      { baseUrl: server.baseUrl, retry: { maxAttempts: 1 }, breaker: { threshold: 1 } },
      registry,
    );
    const withCredentials = makeClient(
      { baseUrl: `http://svc:pw-secret@127.0.0.1:${server.port}//`, retry: { maxAttempts: 1 } },
      registry,
    );
    const otherPath = makeClient(
      { baseUrl: `${server.baseUrl}/other`, retry: { maxAttempts: 1 }, breaker: { threshold: 1 } },
      registry,
    );
    expect(withCredentials.baseUrl).toBe(server.baseUrl);
    expect(otherPath.baseUrl).toBe(`${server.baseUrl}/other`);

    await failure(plain.integrationStart(SEED_KEY));
    expect(withCredentials.breakerState()).toBe('open');
    const error = await failure(withCredentials.integrationStart(SEED_KEY));
    expect(error).toBeInstanceOf(UpstreamBreakerOpenError);
    expect(error.message).not.toContain('pw-secret');
    expect(otherPath.breakerState()).toBe('closed');
    expect(registry.snapshots().map((s) => [s.baseUrl, s.state])).toStrictEqual([
      [server.baseUrl, 'open'],
      [`${server.baseUrl}/other`, 'closed'],
    ]);
  });

  it('clients built without a registry share the module-level one', async () => {
    const server = await startServer(unavailable);
    const base = `${server.baseUrl}/shared-default-${Date.now()}`;
    const options = {
      baseUrl: base,
      format: 'json',
      timeoutMs: 2_000,
      defaultTimeZone: 'UTC',
      auth: { kind: 'none' },
      retry: { maxAttempts: 1 },
      breaker: { threshold: 1 },
    } as const;
    const a = new UpstreamClient(options);
    const b = new UpstreamClient(options);
    try {
      await failure(a.integrationStart(SEED_KEY));
      expect(b.breakerState()).toBe('open');
      expect(defaultUpstreamBreakerRegistry.snapshots().some((s) => s.baseUrl === base && s.state === 'open')).toBe(
        true,
      );
    } finally {
      a.onModuleDestroy();
      b.onModuleDestroy();
    }
  });

  it('each UpstreamModule registration (each app) has its own registry', async () => {
    const server = await startServer(unavailable);
    const options = {
      baseUrl: server.baseUrl,
      format: 'json',
      timeoutMs: 2_000,
      defaultTimeZone: 'UTC',
      auth: { kind: 'none' },
      retry: { maxAttempts: 1 },
      breaker: { threshold: 1 },
    } as const;
    const first = await Test.createTestingModule({ imports: [UpstreamModule.register(options)] }).compile();
    const second = await Test.createTestingModule({ imports: [UpstreamModule.register(options)] }).compile();
    try {
      await failure(first.get(UpstreamClient).integrationStart(SEED_KEY));
      expect(first.get(UpstreamClient).breakerState()).toBe('open');
      expect(first.get(UpstreamBreakerRegistry).snapshots()).toHaveLength(1);
      expect(second.get(UpstreamClient).breakerState()).toBe('closed');
    } finally {
      await first.close();
      await second.close();
    }
  });
});

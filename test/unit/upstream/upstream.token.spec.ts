import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UpstreamSimulator } from '../../../src/demo/simulator';
import { UpstreamHttpStatusError, UpstreamTimeoutError, UpstreamTokenError } from '../../../src/upstream/errors';
import type { UpstreamAuth } from '../../../src/upstream/upstream.client';
import {
  ENDPOINT,
  type Handler,
  answer,
  cleanUp,
  failure,
  makeClient,
  sequence,
  silent,
  startServer,
} from './support/loopback';

const KEY = { sourceSystemId: 7, integrationName: 'Invoices' };
const CLIENT = { clientId: 'tidemark-svc', clientSecret: 'cs-8f2d-very-secret' };
const TOKEN_PATH = '/api/token/authorize';

/** The simulator and the client share a clock that a test can move forward. */
let offsetMs = 0;
const now = () => Date.now() + offsetMs;
let sim: UpstreamSimulator;
let base: string;

beforeEach(async () => {
  offsetMs = 0;
  sim = new UpstreamSimulator({ clock: () => BigInt(now()) * 1_000_000n });
  base = await sim.start();
});

afterEach(async () => {
  await cleanUp();
  await sim.stop();
});

function ccAuth(extra: Partial<Extract<UpstreamAuth, { kind: 'client_credentials' }>> = {}): UpstreamAuth {
  return { kind: 'client_credentials', ...CLIENT, scope: null, tokenUrl: null, requestFormat: 'json', ...extra };
}

function authorizationOf(call: { headers: Record<string, string | string[] | undefined> }): string {
  return String(call.headers.authorization);
}

/** A token endpoint double that records requests and issues `tok-1`, `tok-2`, ... */
function tokenIssuer(extra: Record<string, unknown> = { expires_in: 3600 }): Handler {
  let n = 0;
  return (_req, res) => {
    n += 1;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ access_token: `tok-${n}-abcdef`, token_type: 'bearer', ...extra }));
  };
}

describe('client_credentials: getting a token (simulator)', () => {
  it('fetches a token with a JSON body from {base}/api/token/authorize and sends it as Bearer', async () => {
    sim.configureAuth({ mode: 'client_credentials', ...CLIENT });
    const result = await makeClient({ baseUrl: base, auth: ccAuth(), now }).integrationStart(KEY);
    expect(result.httpStatus).toBe(200);
    expect(sim.tokenRequests).toBe(1);
    expect(sim.calls).toHaveLength(1);
    expect(authorizationOf(sim.calls[0])).toMatch(/^Bearer sim-[A-Za-z0-9_-]+$/);
    expect(result.attempts).toHaveLength(1);
  });

  it('fetches a token with a form body too', async () => {
    sim.configureAuth({ mode: 'client_credentials', ...CLIENT });
    const result = await makeClient({
      baseUrl: base,
      auth: ccAuth({ requestFormat: 'form', scope: 'watermarks' }),
      now,
    }).integrationStart(KEY);
    expect(result.httpStatus).toBe(200);
    expect(sim.tokenRequests).toBe(1);
  });

  it('strips a leading "Bearer " from access_token', async () => {
    sim.configureAuth({ mode: 'client_credentials', ...CLIENT, prefixBearer: true });
    const result = await makeClient({ baseUrl: base, auth: ccAuth(), now }).integrationStart(KEY);
    expect(result.httpStatus).toBe(200);
    expect(authorizationOf(sim.calls[0])).toMatch(/^Bearer sim-[A-Za-z0-9_-]+$/);
  });

  it('caches the token: one token request for many calls', async () => {
    sim.configureAuth({ mode: 'client_credentials', ...CLIENT, tokenTtlSeconds: 3600 });
    const c = makeClient({ baseUrl: base, auth: ccAuth(), now });
    for (let i = 0; i < 5; i += 1) await c.integrationStart(KEY);
    expect(sim.tokenRequests).toBe(1);
    expect(new Set(sim.calls.map(authorizationOf)).size).toBe(1);
  });

  it('shares one in-flight token request between concurrent calls (single-flight)', async () => {
    sim.configureAuth({ mode: 'client_credentials', ...CLIENT });
    const c = makeClient({ baseUrl: base, auth: ccAuth(), now });
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => c.integrationStart({ sourceSystemId: 7, integrationName: `Pair ${i}` })),
    );
    expect(results.every((r) => r.httpStatus === 200)).toBe(true);
    expect(sim.tokenRequests).toBe(1);
    expect(new Set(sim.calls.map(authorizationOf)).size).toBe(1);
  });

  it('refreshes the token before expires_in runs out, without a 401', async () => {
    sim.configureAuth({ mode: 'client_credentials', ...CLIENT, tokenTtlSeconds: 100 });
    const c = makeClient({ baseUrl: base, auth: ccAuth(), now });
    await c.integrationStart(KEY);
    offsetMs = 85_000; // still fresh: refreshed from 90 s (a tenth of the lifetime early)
    await c.integrationStart(KEY);
    expect(sim.tokenRequests).toBe(1);
    offsetMs = 91_000; // still valid upstream for 9 s, but due for refresh
    const result = await c.integrationStart(KEY);
    expect(sim.tokenRequests).toBe(2);
    expect(result.attempts).toHaveLength(1);
    expect(sim.calls.map((call) => call.status)).toStrictEqual([200, 200, 200]);
    expect(authorizationOf(sim.calls[2])).not.toBe(authorizationOf(sim.calls[0]));
  });

  it('on a 401 for an expired token, refreshes once and sends again', async () => {
    sim.configureAuth({ mode: 'client_credentials', ...CLIENT });
    const c = makeClient({ baseUrl: base, auth: ccAuth(), now });
    await c.integrationStart(KEY);
    sim.expireTokens();
    const result = await c.integrationStart(KEY);
    expect(result.httpStatus).toBe(200);
    expect(sim.tokenRequests).toBe(2);
    expect(sim.calls.map((call) => call.status)).toStrictEqual([200, 401, 200]);
    expect(result.attempts.map((a) => [a.attempt, a.httpStatus, a.errorCode, a.error])).toStrictEqual([
      [
        1,
        401,
        'http_status',
        'upstream answered HTTP 401 Unauthorized: Message: Authorization has been denied for this request. (token refreshed, sending again)',
      ],
      [2, 200, null, null],
    ]);
    expect(result.outcomeUnknownRetried).toBe(false);
  });

  it('concurrent calls refused with the same expired token share one refresh', async () => {
    sim.configureAuth({ mode: 'client_credentials', ...CLIENT });
    const c = makeClient({ baseUrl: base, auth: ccAuth(), now });
    await c.integrationStart(KEY);
    sim.expireTokens();
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => c.integrationStart({ sourceSystemId: 7, integrationName: `Pair ${i}` })),
    );
    expect(results.every((r) => r.httpStatus === 200)).toBe(true);
    expect(sim.tokenRequests).toBe(2);
  });

  it('also when the token ran out upstream before the client expected (clock skew)', async () => {
    sim.configureAuth({ mode: 'client_credentials', ...CLIENT, tokenTtlSeconds: 100 });
    const c = makeClient({ baseUrl: base, auth: ccAuth(), now });
    await c.integrationStart(KEY);
    offsetMs = 101_000;
    // The client's own clock is behind: it still believes the token fresh.
    const lagging = makeClient({ baseUrl: base, auth: ccAuth(), now: () => Date.now() });
    await lagging.integrationStart(KEY);
    offsetMs = 300_000;
    const result = await lagging.integrationStart(KEY);
    expect(result.attempts.map((a) => a.httpStatus)).toStrictEqual([401, 200]);
  });

  it('fails after one refresh when the fresh token is refused too, without further retries', async () => {
    // Tokens that are dead on arrival: every call is refused.
    sim.configureAuth({ mode: 'client_credentials', ...CLIENT, tokenTtlSeconds: 0 });
    const c = makeClient({ baseUrl: base, auth: ccAuth(), now, breaker: { threshold: 1 } });
    const error = await failure(c.integrationStart(KEY));
    expect(error).toBeInstanceOf(UpstreamHttpStatusError);
    expect(error.httpStatus).toBe(401);
    expect(sim.tokenRequests).toBe(2);
    expect(sim.calls).toHaveLength(2);
    expect(error.message).toBe(
      `upstream ${base.replace('http://', '')} answered 401 Unauthorized on 2 attempts; a freshly requested token was refused too ` +
        '(last: Message: Authorization has been denied for this request.)',
    );
    expect(error.attempts!.map((a) => a.httpStatus)).toStrictEqual([401, 401]);
    // Not the upstream's fault: the breaker stays closed.
    expect(c.breakerState()).toBe('closed');
    // The next call refreshes once again.
    await failure(c.integrationStart(KEY));
    expect(sim.tokenRequests).toBe(4);
  });

  it('refuses wrong client credentials as a token error, without calling IntegrationStart or retrying', async () => {
    sim.configureAuth({ mode: 'client_credentials', ...CLIENT });
    const c = makeClient({
      baseUrl: base,
      auth: ccAuth({ clientSecret: 'wrong-secret-value' }),
      now,
      breaker: { threshold: 1 },
    });
    const error = (await failure(c.integrationStart(KEY))) as UpstreamTokenError;
    expect(error).toBeInstanceOf(UpstreamTokenError);
    expect(error.code).toBe('token');
    expect(error.httpStatus).toBe(400);
    expect(error.oauthError).toBe('invalid_client');
    expect(error.message).toBe(
      `token endpoint ${base.replace('http://', '')} answered HTTP 400 Bad Request: invalid_client`,
    );
    expect(error.attempts).toHaveLength(1);
    expect(error.attempts![0]).toMatchObject({ httpStatus: 400, errorCode: 'token' });
    expect(sim.tokenRequests).toBe(1);
    expect(sim.calls).toHaveLength(0);
    expect(c.breakerState()).toBe('closed');
    expect(JSON.stringify(error)).not.toContain('wrong-secret-value');
  });
});

describe('client_credentials: the token request on the wire', () => {
  it('POSTs grant_type, client_id, client_secret and scope as JSON', async () => {
    const tokens = await startServer(tokenIssuer());
    const upstream = await startServer(answer(200, 'application/json', JSON.stringify(dto())));
    await makeClient({
      baseUrl: upstream.baseUrl,
      auth: ccAuth({ tokenUrl: `${tokens.baseUrl}/oauth/token`, scope: 'watermarks read' }),
    }).integrationStart(KEY);
    expect(tokens.received).toHaveLength(1);
    const [request] = tokens.received;
    expect(request.method).toBe('POST');
    expect(request.url).toBe('/oauth/token');
    expect(request.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(request.headers.accept).toBe('application/json');
    expect(request.headers.authorization).toBeUndefined();
    expect(JSON.parse(request.body)).toStrictEqual({
      grant_type: 'client_credentials',
      client_id: 'tidemark-svc',
      client_secret: 'cs-8f2d-very-secret',
      scope: 'watermarks read',
    });
    expect(upstream.received[0].headers.authorization).toBe('Bearer tok-1-abcdef');
  });

  it('POSTs them as form data, without scope when there is none', async () => {
    const upstream = await startServer((req, res, received) => {
      if (received.url === TOKEN_PATH) return tokenIssuer()(req, res, received);
      answer(200, 'application/json', JSON.stringify(dto()))(req, res, received);
    });
    await makeClient({ baseUrl: upstream.baseUrl, auth: ccAuth({ requestFormat: 'form' }) }).integrationStart(KEY);
    const [token, call] = upstream.received;
    expect(token.url).toBe(TOKEN_PATH);
    expect(token.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(token.body).toBe('grant_type=client_credentials&client_id=tidemark-svc&client_secret=cs-8f2d-very-secret');
    expect(call.url).toBe(ENDPOINT);
    expect(call.headers.authorization).toBe('Bearer tok-1-abcdef');
  });

  it('keeps the token until a 401 when the answer has no expires_in', async () => {
    const tokens = await startServer(tokenIssuer({}));
    const upstream = await startServer(answer(200, 'application/json', JSON.stringify(dto())));
    let clock = Date.now();
    const c = makeClient({ baseUrl: upstream.baseUrl, auth: ccAuth({ tokenUrl: tokens.baseUrl }), now: () => clock });
    await c.integrationStart(KEY);
    clock += 30 * 24 * 3600 * 1000;
    await c.integrationStart(KEY);
    expect(tokens.received).toHaveLength(1);
  });

  it('retries a token endpoint that answers 503, within the same call', async () => {
    const tokens = await startServer(sequence(answer(503, 'text/plain', 'busy'), tokenIssuer()));
    const upstream = await startServer(answer(200, 'application/json', JSON.stringify(dto())));
    const result = await makeClient({
      baseUrl: upstream.baseUrl,
      auth: ccAuth({ tokenUrl: tokens.baseUrl }),
    }).integrationStart(KEY);
    expect(result.attempts.map((a) => [a.httpStatus, a.errorCode, a.error])).toStrictEqual([
      [503, 'token', `token endpoint 127.0.0.1:${tokens.port} answered HTTP 503 Service Unavailable; body: busy`],
      [200, null, null],
    ]);
    expect(tokens.received).toHaveLength(2);
  });

  it('calls that share a failing token request each keep their own attempts, retries and message', async () => {
    // Every token request takes 100 ms and fails: the calls started 50 and 150 ms after the first join the first and
    // the second token request, so each failure reaches two calls as the same error.
    const tokens = await startServer((_req, res) => {
      setTimeout(() => {
        res.statusCode = 503;
        res.setHeader('content-type', 'text/plain');
        res.end('busy');
      }, 100);
    });
    const upstream = await startServer(answer(200, 'application/json', JSON.stringify(dto())));
    const client = makeClient({
      baseUrl: upstream.baseUrl,
      auth: ccAuth({ tokenUrl: tokens.baseUrl }),
      retry: { maxAttempts: 2, baseMs: 10, maxMs: 40 },
      random: () => 0,
    });
    const failureOf = (integrationName: string) =>
      client.integrationStart({ sourceSystemId: 7, integrationName }).then(
        () => null,
        (error: unknown) => error,
      );
    const a = failureOf('A');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const b = failureOf('B');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const c = failureOf('C');
    const errors = (await Promise.all([a, b, c])) as UpstreamTokenError[];
    const tokenFailure = `token endpoint 127.0.0.1:${tokens.port} answered HTTP 503 Service Unavailable; body: busy`;
    for (const error of errors) {
      expect(error).toBeInstanceOf(UpstreamTokenError);
      expect(error.attempts!.map((attempt) => [attempt.attempt, attempt.errorCode, attempt.error])).toStrictEqual([
        [1, 'token', tokenFailure],
        [2, 'token', tokenFailure],
      ]);
      expect(error.message).toBe(
        `upstream 127.0.0.1:${upstream.port} failed on all 2 attempts: token endpoint 503 Service Unavailable (last: ${tokenFailure})`,
      );
    }
    expect(new Set(errors).size).toBe(3);
    expect(upstream.received).toHaveLength(0);
  });

  it('refuses an answer without access_token', async () => {
    const upstream = await startServer((req, res, received) => {
      if (received.url === TOKEN_PATH) return answer(200, 'text/html', '<html>login</html>')(req, res, received);
      answer(200, 'application/json', JSON.stringify(dto()))(req, res, received);
    });
    const error = await failure(makeClient({ baseUrl: upstream.baseUrl, auth: ccAuth() }).integrationStart(KEY));
    expect(error).toBeInstanceOf(UpstreamTokenError);
    expect(error.message).toBe(
      `token endpoint 127.0.0.1:${upstream.port} answered HTTP 200 OK without an access_token (the body is not a JSON object)`,
    );
    expect(upstream.received).toHaveLength(1);
  });

  it('bounds the token request by the call deadline', async () => {
    const tokens = await startServer(silent);
    const started = performance.now();
    const error = (await failure(
      makeClient({
        baseUrl: 'http://127.0.0.1:9',
        auth: ccAuth({ tokenUrl: `${tokens.baseUrl}${TOKEN_PATH}` }),
        timeoutMs: 300,
      }).integrationStart(KEY),
    )) as UpstreamTimeoutError;
    expect(performance.now() - started).toBeLessThan(800);
    expect(error).toBeInstanceOf(UpstreamTimeoutError);
    expect(error.message).toMatch(
      new RegExp(
        `^upstream ${tokens.baseUrl}${TOKEN_PATH} did not answer completely within \\d+ ms: the request had been sent but no response headers had arrived$`,
      ),
    );
  });

  it('never shows the token or the client secret in errors, even when servers echo them', async () => {
    const tokens = await startServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ access_token: 'Bearer echoed-token-0123456789', expires_in: 3600 }));
    });
    const upstream = await startServer((req, res) =>
      answer(
        500,
        'application/json',
        JSON.stringify({ Message: `bad token ${req.headers.authorization} for ${CLIENT.clientSecret}` }),
      )(req, res, undefined as never),
    );
    const error = await failure(
      makeClient({ baseUrl: upstream.baseUrl, auth: ccAuth({ tokenUrl: tokens.baseUrl }) }).integrationStart(KEY),
    );
    expect(upstream.received[0].headers.authorization).toBe('Bearer echoed-token-0123456789');
    expect(error.message).toBe(
      // The raw access_token (with its "Bearer ") is a secret too, so the whole echo goes.
      'upstream answered HTTP 500 Internal Server Error: Message: bad token [redacted] for [redacted]',
    );
    const everything = JSON.stringify({ error, message: error.message, attempts: error.attempts });
    expect(everything).not.toContain('echoed-token-0123456789');
    expect(everything).not.toContain(CLIENT.clientSecret);

    const refusing = await startServer((_req, res) => {
      res.writeHead(401, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: 'invalid_client', error_description: `secret ${CLIENT.clientSecret} unknown` }));
    });
    const refused = await failure(
      makeClient({ baseUrl: upstream.baseUrl, auth: ccAuth({ tokenUrl: refusing.baseUrl }) }).integrationStart(KEY),
    );
    expect(refused.message).toBe(
      `token endpoint 127.0.0.1:${refusing.port} answered HTTP 401 Unauthorized: invalid_client (secret [redacted] unknown)`,
    );
  });
});

function dto() {
  return {
    IntegrationName: 'Invoices',
    SourceSystemId: 7,
    LastRunStartDateTime: '2025-12-10T08:22:52.8100855-06:00',
    LastRunEndDateTime: '2025-12-10T08:22:52.8100855-06:00',
    ProcessStatusMeaning: 'Complete',
    MaxSyncDateTime: '2025-12-10T08:22:52.8100855-06:00',
    MaxSyncDateMaxPKId: 1,
    SourceId: 1,
    SourceIdString: 'x',
    CustomDatabaseValues: null,
  };
}

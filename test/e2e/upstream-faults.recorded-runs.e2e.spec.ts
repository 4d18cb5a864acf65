import { zstdCompressSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ScriptedAnswer, UpstreamSimulator } from '../../src/demo/simulator';
import { NEVER, type RunningApp } from '../support/app';
import { startStack, type Stack } from '../support/stack';
import {
  JSON_TYPE,
  KEY,
  MAX_BODY_BYTES,
  RETRY_MAX_ATTEMPTS,
  SEEDED_STATE,
  SEED_BODY,
  SEEDED_WATERMARK,
  UPSTREAM_TIMEOUT_MS,
  editedSeed,
  facade,
  reportFaultTally,
  seedKnownWatermark,
  storedKeys,
  tally,
  type Run,
} from '../support/upstream-faults';

/**
 * One e2e test per upstream fault the simulator can script: delay, status, headers, body, reset mid-body and a
 * byte trickle. Each test triggers a manual run through the facade and asserts
 * - the run's outcome, errorCode and the key part of its error text (and its attempts);
 * - that the integration's stored state (watermark included) is byte-identical to before, or for a regression,
 *   that the older watermark was stored and the run flagged;
 * - that the process still serves (`GET /health/live` 200).
 *
 * Retry settings are set explicitly (2 attempts, 10 ms backoff base) so that nothing depends on the defaults.
 * The main app's breaker threshold is out of reach so that failing runs in a row don't open it; the breaker has
 * its own app (threshold 2, half-open after 1 s) in upstream-faults.breaker.e2e.spec.ts.
 */

reportFaultTally();

describe('upstream faults e2e: every fault ends in a recorded run, the watermark survives, the process serves', () => {
  let stack: Stack;
  let simulator: UpstreamSimulator;
  let app: RunningApp;
  const api = facade(() => app);

  beforeAll(async () => {
    stack = await startStack('faults', {
      UPSTREAM_TIMEOUT_MS: String(UPSTREAM_TIMEOUT_MS),
      UPSTREAM_MAX_BODY_BYTES: String(MAX_BODY_BYTES),
      UPSTREAM_RETRY_MAX_ATTEMPTS: String(RETRY_MAX_ATTEMPTS),
      UPSTREAM_RETRY_BASE_MS: '10',
      UPSTREAM_RETRY_MAX_MS: '50',
      UPSTREAM_BREAKER_THRESHOLD: '1000',
      UPSTREAM_BREAKER_HALF_OPEN_MS: '1000',
      INTEGRATIONS: JSON.stringify([{ ...KEY, cron: NEVER }]),
    });
    ({ simulator, app } = stack);
  });

  afterAll(() => stack?.close());

  // Every test starts from the known watermark of responses/int64-ids.json.
  beforeEach(() => seedKnownWatermark(simulator, api));

  /**
   * Scripts `answers` (one per expected attempt), runs, and checks what every fault shares: the run failed (or
   * `outcome`), watermarkBefore is the seeded one, the stored state is byte-identical, the process serves, and
   * the simulator was called exactly `answers.length` times.
   */
  async function fault(
    answers: ScriptedAnswer[],
    expected: { outcome?: string; errorCode: string | null; calls?: number },
  ): Promise<Run> {
    tally.faults += 1;
    const before = storedKeys(await api.state());
    expect(before).toStrictEqual(storedKeys(SEEDED_STATE));
    simulator.script(KEY, ...answers);
    const run = await api.run();
    expect({ outcome: run.outcome, errorCode: run.errorCode }).toStrictEqual({
      outcome: expected.outcome ?? 'failed',
      errorCode: expected.errorCode,
    });
    expect(run.watermarkBefore).toStrictEqual(SEEDED_WATERMARK);
    if ((expected.outcome ?? 'failed') === 'failed') {
      expect(run.watermarkAfter).toBeNull();
      expect(run.error).toEqual(expect.any(String));
    }
    const after = storedKeys(await api.state());
    if (JSON.stringify(after) !== JSON.stringify(before)) tally.watermarksLost += 1;
    expect(after).toStrictEqual(before);
    expect(simulator.callCount(KEY)).toBe(expected.calls ?? answers.length);
    await api.expectLive();
    return run;
  }

  /**
   * The run's attempts: how many, the errorCode of each, and its HTTP status where given (left out where the answer
   * broke off after its headers: whether the attempt records their status is the upstream client's business).
   */
  function expectAttempts(run: Run, expected: Array<{ httpStatus?: number | null; errorCode: string | null }>): void {
    const seen = run.attempts.map((a: Run, i: number) =>
      expected[i] && 'httpStatus' in expected[i]
        ? { httpStatus: a.httpStatus, errorCode: a.errorCode }
        : { errorCode: a.errorCode },
    );
    expect(seen).toStrictEqual(expected);
    run.attempts.forEach((a: Run, i: number) =>
      expect([a.attempt, a.startedAt, a.durationMs]).toStrictEqual([i + 1, expect.any(String), expect.any(Number)]),
    );
  }

  // ---- delay and trickle ------------------------------------------------------------------------

  // Each attempt has half the run's deadline (UPSTREAM_ATTEMPT_TIMEOUT_MS defaults to UPSTREAM_TIMEOUT_MS / 2), so a
  // timed-out POST, whose outcome is unknown, is retried once within the run's deadline.
  it('times out a body that trickles in 1 byte at a time, retries the unknown outcome, and fails within the deadline', async () => {
    const started = Date.now();
    const trickle: ScriptedAnswer = { bodyFromVector: 'int64-ids.json', trickleBytesPerTick: 1, trickleIntervalMs: 20 };
    const run = await fault([trickle, trickle], { errorCode: 'timeout' });
    expect(run.error).toContain('failed on 2 attempts: timeout');
    expect(run.error).toContain('the response body was still arriving');
    expectAttempts(run, [{ errorCode: 'timeout' }, { errorCode: 'timeout' }]);
    expect(run.outcomeUnknownRetried).toBe(true);
    expect(Date.now() - started).toBeLessThan(UPSTREAM_TIMEOUT_MS + 3_000);
  });

  it('times out an answer whose headers are delayed past the attempt deadline, on every attempt', async () => {
    const late: ScriptedAnswer = { bodyFromVector: 'int64-ids.json', delayMs: UPSTREAM_TIMEOUT_MS + 2_000 };
    const run = await fault([late, late], { errorCode: 'timeout' });
    expect(run.error).toContain('no response headers had arrived');
    expectAttempts(run, [
      { httpStatus: null, errorCode: 'timeout' },
      { httpStatus: null, errorCode: 'timeout' },
    ]);
    expect(run.outcomeUnknownRetried).toBe(true);
  });

  it('times out an upstream that never answers', async () => {
    const run = await fault([{ hangForever: true }, { hangForever: true }], { errorCode: 'timeout' });
    expect(run.error).toContain('failed on 2 attempts: timeout');
    expect(run.error).toContain(`within ${UPSTREAM_TIMEOUT_MS} ms`);
    expectAttempts(run, [
      { httpStatus: null, errorCode: 'timeout' },
      { httpStatus: null, errorCode: 'timeout' },
    ]);
  });

  it('retries a POST that timed out after it was sent and records the unknown outcome on the succeeded run', async () => {
    tally.faults += 1;
    simulator.script(KEY, { hangForever: true }, { bodyFromVector: 'int64-ids.json' });
    const run = await api.run();
    expect([run.outcome, run.outcomeUnknownRetried, run.watermarkAfter]).toStrictEqual([
      'succeeded',
      true,
      SEEDED_WATERMARK,
    ]);
    expectAttempts(run, [
      { httpStatus: null, errorCode: 'timeout' },
      { httpStatus: 200, errorCode: null },
    ]);
    expect(storedKeys(await api.state())).toStrictEqual(storedKeys(SEEDED_STATE));
    await api.expectLive();
  });

  // ---- statuses ---------------------------------------------------------------------------------

  for (const status of [502, 503, 504]) {
    it(`retries ${status} and fails after UPSTREAM_RETRY_MAX_ATTEMPTS attempts`, async () => {
      const run = await fault(
        Array.from({ length: RETRY_MAX_ATTEMPTS }, () => ({ status })),
        { errorCode: 'http_status' },
      );
      expect(run.httpStatus).toBe(status);
      expect(run.error).toContain(`answered ${status}`);
      expect(run.error).toContain(`on all ${RETRY_MAX_ATTEMPTS} attempts`);
      expectAttempts(
        run,
        Array.from({ length: RETRY_MAX_ATTEMPTS }, () => ({ httpStatus: status, errorCode: 'http_status' })),
      );
      expect(run.outcomeUnknownRetried).toBe(false);
    });
  }

  it('succeeds when a retry after 503 gets the answer (same watermark: stored state unchanged)', async () => {
    const run = await fault([{ status: 503 }, { bodyFromVector: 'int64-ids.json' }], {
      outcome: 'succeeded',
      errorCode: null,
    });
    expect([run.httpStatus, run.error, run.watermarkAfter, run.watermarkRegressed]).toStrictEqual([
      200,
      null,
      SEEDED_WATERMARK,
      false,
    ]);
    expectAttempts(run, [
      { httpStatus: 503, errorCode: 'http_status' },
      { httpStatus: 200, errorCode: null },
    ]);
  });

  it('honours 429 Retry-After in seconds', async () => {
    const answer = { status: 429, headers: { 'Retry-After': '1' } };
    const run = await fault([answer, answer], { errorCode: 'http_status' });
    expect(run.httpStatus).toBe(429);
    expect(run.error).toContain(`answered 429`);
    expectAttempts(run, [
      { httpStatus: 429, errorCode: 'http_status' },
      { httpStatus: 429, errorCode: 'http_status' },
    ]);
    expect(run.attempts[0].retryAfterMs).toBe(1_000);
    const gap = Date.parse(run.attempts[1].startedAt) - Date.parse(run.attempts[0].startedAt);
    expect(gap).toBeGreaterThanOrEqual(980);
  });

  it('honours 429 Retry-After as an HTTP-date', async () => {
    // Whole seconds on the wire: the wait is between 1 and 2 s from now.
    const answer = () => ({ status: 429, headers: { 'Retry-After': new Date(Date.now() + 2_000).toUTCString() } });
    const run = await fault([answer(), answer()], { errorCode: 'http_status' });
    expect(run.httpStatus).toBe(429);
    expectAttempts(run, [
      { httpStatus: 429, errorCode: 'http_status' },
      { httpStatus: 429, errorCode: 'http_status' },
    ]);
    const asked = run.attempts[0].retryAfterMs as number;
    expect(asked).toBeGreaterThan(500);
    expect(asked).toBeLessThanOrEqual(2_000);
    const gap = Date.parse(run.attempts[1].startedAt) - Date.parse(run.attempts[0].startedAt);
    expect(gap).toBeGreaterThanOrEqual(asked - 20);
  });

  it('gives up at once on a 429 whose Retry-After is beyond the deadline, and says so', async () => {
    const run = await fault([{ status: 429, headers: { 'Retry-After': '3600' } }], { errorCode: 'http_status' });
    expect(run.error).toContain('Retry-After asked for 3600000 ms');
    expectAttempts(run, [{ httpStatus: 429, errorCode: 'http_status' }]);
  });

  for (const status of [400, 404]) {
    it(`does not retry ${status}`, async () => {
      const run = await fault([{ status }], { errorCode: 'http_status' });
      expect(run.httpStatus).toBe(status);
      expect(run.error).toContain(`upstream answered HTTP ${status}`);
      expectAttempts(run, [{ httpStatus: status, errorCode: 'http_status' }]);
    });
  }

  it('reports an IIS HTML error page with 500 (not retried)', async () => {
    const page =
      '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\r\n' +
      '<html xmlns="http://www.w3.org/1999/xhtml">\r\n<head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"/>\r\n' +
      '<title>500 - Internal server error.</title>\r\n</head>\r\n<body>\r\n<div id="header"><h1>Server Error</h1></div>\r\n' +
      '<div id="content"><fieldset><h2>500 - Internal server error.</h2>\r\n' +
      '<h3>There is a problem with the resource you are looking for, and it cannot be displayed.</h3></fieldset></div>\r\n</body>\r\n</html>\r\n';
    const run = await fault(
      [
        {
          status: 500,
          body: page,
          headers: { 'Content-Type': 'text/html', Server: 'Microsoft-IIS/10.0', 'X-Powered-By': 'ASP.NET' },
        },
      ],
      { errorCode: 'http_status' },
    );
    expect(run.httpStatus).toBe(500);
    expect(run.error).toContain('upstream answered HTTP 500 Internal Server Error');
    expect(run.error).toContain('<!DOCTYPE html');
    expect(run.error).not.toMatch(/[\r\n]/);
    expectAttempts(run, [{ httpStatus: 500, errorCode: 'http_status' }]);
  });

  it("puts an ASP.NET error body's Message, ExceptionMessage and ExceptionType in the run's error", async () => {
    const body = JSON.stringify({
      Message: 'An error has occurred.',
      ExceptionMessage: 'Timeout expired. The timeout period elapsed prior to completion of the operation.',
      ExceptionType: 'System.Data.SqlClient.SqlException',
      StackTrace: '   at System.Data.SqlClient.SqlConnection.OnError(SqlException exception)',
    });
    const run = await fault([{ status: 500, body, headers: JSON_TYPE }], { errorCode: 'http_status' });
    expect(run.httpStatus).toBe(500);
    expect(run.error).toContain('Message: An error has occurred.');
    expect(run.error).toContain(
      'ExceptionMessage: Timeout expired. The timeout period elapsed prior to completion of the operation.',
    );
    expect(run.error).toContain('ExceptionType: System.Data.SqlClient.SqlException');
    // 500 is not among the retried statuses (429, 502, 503, 504)
    expectAttempts(run, [{ httpStatus: 500, errorCode: 'http_status' }]);
  });

  // ---- bodies -----------------------------------------------------------------------------------

  it('refuses a 200 with an HTML login page', async () => {
    const page =
      '<!DOCTYPE html><html><head><title>Sign in</title></head><body><form action="/login"><input name="user"></form></body></html>';
    const run = await fault([{ body: page, headers: { 'Content-Type': 'text/html; charset=utf-8' } }], {
      errorCode: 'body_unreadable',
    });
    expect(run.httpStatus).toBe(200);
    expect(run.error).toContain('is an HTML page');
    expectAttempts(run, [{ httpStatus: 200, errorCode: 'body_unreadable' }]);
  });

  it('refuses a null body', async () => {
    const run = await fault([{ body: 'null', headers: JSON_TYPE }], { errorCode: 'not_a_dto' });
    expect(run.httpStatus).toBe(200);
    expect(run.error).toContain('JSON null');
    expectAttempts(run, [{ httpStatus: 200, errorCode: 'not_a_dto' }]);
  });

  it('refuses an empty body', async () => {
    const run = await fault([{ body: '', headers: JSON_TYPE }], { errorCode: 'body_unreadable' });
    expect(run.httpStatus).toBe(200);
    expect(run.error).toContain('empty');
  });

  it('refuses wrong field types (a PK id as a string, a date as a number)', async () => {
    const pkAsString = editedSeed('"MaxSyncDateMaxPKId":9007199254740993', '"MaxSyncDateMaxPKId":"0x1FFFFFFFFFFFFF"');
    const run = await fault([{ body: pkAsString, headers: JSON_TYPE }], { errorCode: 'not_a_dto' });
    expect(run.error).toContain('MaxSyncDateMaxPKId must be an integer');
    simulator.reset();
    const dateAsNumber = editedSeed(
      '"MaxSyncDateTime":"2026-01-31T17:59:59.9999999-06:00"',
      '"MaxSyncDateTime":20260131',
    );
    const second = await fault([{ body: dateAsNumber, headers: JSON_TYPE }], { errorCode: 'not_a_dto' });
    expect(second.error).toContain('MaxSyncDateTime must be a date string');
  });

  it(`refuses a body over UPSTREAM_MAX_BODY_BYTES (${MAX_BODY_BYTES}; 1 MB sent)`, async () => {
    const big = JSON.stringify({ IntegrationName: 'Invoices', SourceSystemId: 12, Padding: 'x'.repeat(1024 * 1024) });
    const run = await fault([{ body: big, headers: JSON_TYPE }], { errorCode: 'body_too_large' });
    expect(run.error).toContain(`exceeds the limit of ${MAX_BODY_BYTES} bytes`);
    expectAttempts(run, [{ errorCode: 'body_too_large' }]);
  });

  it('refuses XML with a DOCTYPE entity bomb before parsing it', async () => {
    const entities = Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i};`.repeat(10)}">`).join('');
    const bomb =
      `<?xml version="1.0" encoding="utf-8"?><!DOCTYPE IntegrationStatusDTO [<!ENTITY lol0 "lol">${entities}]>` +
      '<IntegrationStatusDTO xmlns="http://schemas.datacontract.org/2004/07/Gravitate.Domain.Models.DTOs">' +
      '<IntegrationName>&lol9;</IntegrationName><SourceSystemId>12</SourceSystemId></IntegrationStatusDTO>';
    const started = Date.now();
    const run = await fault([{ body: bomb, headers: { 'Content-Type': 'application/xml; charset=utf-8' } }], {
      errorCode: 'body_unreadable',
    });
    expect(run.error).toContain('DOCTYPE declaration');
    expectAttempts(run, [{ httpStatus: 200, errorCode: 'body_unreadable' }]);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('reports a body in a Content-Encoding it does not have (headers that lie)', async () => {
    const run = await fault([{ bodyFromVector: 'int64-ids.json', headers: { 'Content-Encoding': 'gzip' } }], {
      errorCode: 'body_unreadable',
    });
    expect(run.error).toContain('could not be decoded');
    expectAttempts(run, [{ errorCode: 'body_unreadable' }]);
  });

  it.each([
    ['zstd', () => zstdCompressSync(Buffer.from(SEED_BODY))],
    ['gzip, zstd', () => SEED_BODY],
    ['x-snappy', () => SEED_BODY],
  ])('refuses a body in the Content-Encoding %j, which it did not offer, naming it', async (encoding, body) => {
    const run = await fault([{ body: body(), headers: { ...JSON_TYPE, 'Content-Encoding': encoding } }], {
      errorCode: 'body_unreadable',
    });
    expect(run.error).toContain(
      `has Content-Encoding ${JSON.stringify(encoding)}, which was not offered (Accept-Encoding: gzip, deflate, br, one coding at a time)`,
    );
    expectAttempts(run, [{ httpStatus: 200, errorCode: 'body_unreadable' }]);
  });

  // ---- connections ------------------------------------------------------------------------------

  it('retries a body truncated by a reset (Content-Length larger than sent) and flags the unknown outcome', async () => {
    const truncated = { bodyFromVector: 'int64-ids.json', resetAfterBytes: 100 };
    const run = await fault([truncated, truncated], { errorCode: 'connection' });
    expect(run.error).toContain('connection to upstream');
    expect(run.error).toMatch(/ECONNRESET|closed before the answer was complete/);
    expectAttempts(
      run,
      Array.from({ length: RETRY_MAX_ATTEMPTS }, () => ({ errorCode: 'connection' })),
    );
    expect(run.outcomeUnknownRetried).toBe(true);
  });

  it('retries a connection reset before the first body byte', async () => {
    const reset = { bodyFromVector: 'int64-ids.json', resetAfterBytes: 0 };
    const run = await fault([reset, reset], { errorCode: 'connection' });
    expect(run.error).toContain('ECONNRESET');
    expectAttempts(
      run,
      Array.from({ length: RETRY_MAX_ATTEMPTS }, () => ({ errorCode: 'connection' })),
    );
    expect(run.outcomeUnknownRetried).toBe(true);
  });

  // ---- watermark regression ---------------------------------------------------------------------

  it('stores an older watermark than the stored one and flags the run watermarkRegressed', async () => {
    tally.faults += 1;
    const body = editedSeed(
      '"MaxSyncDateTime":"2026-01-31T17:59:59.9999999-06:00"',
      '"MaxSyncDateTime":"2025-06-30T08:00:00.0000000-05:00"',
    ).replace('"MaxSyncDateMaxPKId":9007199254740993', '"MaxSyncDateMaxPKId":9007199254740990');
    simulator.script(KEY, { body, headers: JSON_TYPE });
    const run = await api.run();
    expect([run.outcome, run.errorCode, run.error, run.watermarkRegressed]).toStrictEqual([
      'succeeded',
      null,
      null,
      true,
    ]);
    expect(run.watermarkBefore).toStrictEqual(SEEDED_WATERMARK);
    const regressed = {
      maxSyncDateTime: '2025-06-30T08:00:00.0000000-05:00',
      maxSyncDateTimeUtc: '2025-06-30T13:00:00.0000000Z',
      maxSyncDateMaxPkId: '9007199254740990',
    };
    expect(run.watermarkAfter).toStrictEqual(regressed);
    const state = await api.state();
    expect({
      maxSyncDateTime: state.maxSyncDateTime,
      maxSyncDateTimeUtc: state.maxSyncDateTimeUtc,
      maxSyncDateMaxPkId: state.maxSyncDateMaxPkId,
    }).toStrictEqual(regressed);
    expect((state.lastRun as Run).watermarkRegressed).toBe(true);
    await api.expectLive();
  });
});

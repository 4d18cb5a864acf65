import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { UpstreamSimulator } from '../../src/demo/simulator';
import { NEVER, type RunningApp } from '../support/app';
import { startStack, type Stack } from '../support/stack';
import {
  KEY,
  RETRY_MAX_ATTEMPTS,
  SEEDED_WATERMARK,
  UPSTREAM_TIMEOUT_MS,
  facade,
  reportFaultTally,
  seedKnownWatermark,
  storedKeys,
  tally,
  type Run,
} from '../support/upstream-faults';

/**
 * Connection refused and the circuit breaker, on an app of their own (threshold 2, half-open after 1 s): the runs
 * are recorded, the watermark survives and the process serves, as for every fault in
 * upstream-faults.recorded-runs.e2e.spec.ts.
 */

reportFaultTally();

describe('upstream faults e2e: connection refused and the circuit breaker', () => {
  let stack: Stack;
  let simulator: UpstreamSimulator;
  let port: number;
  let app: RunningApp;
  const api = facade(() => app);

  beforeAll(async () => {
    stack = await startStack('breaker', {
      UPSTREAM_TIMEOUT_MS: String(UPSTREAM_TIMEOUT_MS),
      UPSTREAM_RETRY_MAX_ATTEMPTS: String(RETRY_MAX_ATTEMPTS),
      UPSTREAM_RETRY_BASE_MS: '10',
      UPSTREAM_RETRY_MAX_MS: '50',
      UPSTREAM_BREAKER_THRESHOLD: '2',
      UPSTREAM_BREAKER_HALF_OPEN_MS: '1000',
      INTEGRATIONS: JSON.stringify([{ ...KEY, cron: NEVER }]),
    });
    ({ simulator, app } = stack);
    port = Number(new URL(app.tidemark.upstreamBaseUrl).port);
  });

  afterAll(() => stack?.close());

  // Every test starts from the known watermark and a closed breaker (a success resets its count).
  beforeEach(() => seedKnownWatermark(simulator, api));

  it('fails a run whose upstream refuses connections, retried, and keeps the watermark', async () => {
    tally.faults += 1;
    const before = storedKeys(await api.state());
    await simulator.stop();
    try {
      const run = await api.run();
      expect([run.outcome, run.errorCode, run.httpStatus, run.watermarkAfter]).toStrictEqual([
        'failed',
        'connection',
        null,
        null,
      ]);
      expect(run.error).toContain(`connection to upstream 127.0.0.1:${port} failed`);
      expect(run.error).toContain('ECONNREFUSED');
      expect(run.attempts.map((a: Run) => a.errorCode)).toStrictEqual(Array(RETRY_MAX_ATTEMPTS).fill('connection'));
      // refused: the request never left, so the outcome is known
      expect(run.outcomeUnknownRetried).toBe(false);
    } finally {
      await simulator.start(port);
    }
    const after = storedKeys(await api.state());
    if (JSON.stringify(after) !== JSON.stringify(before)) tally.watermarksLost += 1;
    expect(after).toStrictEqual(before);
    await api.expectLive();
  });

  it('opens the breaker after 2 failed runs: the next run is skipped without calling the upstream; after 1 s a run goes through', async () => {
    tally.faults += 1;
    const before = storedKeys(await api.state());
    simulator.script(KEY, ...Array.from({ length: 2 * RETRY_MAX_ATTEMPTS }, () => ({ status: 503 })));
    for (let i = 0; i < 2; i += 1) {
      const failed = await api.run();
      expect([failed.outcome, failed.errorCode, failed.httpStatus]).toStrictEqual(['failed', 'http_status', 503]);
    }
    expect(simulator.callCount(KEY)).toBe(2 * RETRY_MAX_ATTEMPTS);

    const skipped = await api.run();
    expect([skipped.outcome, skipped.errorCode, skipped.httpStatus, skipped.watermarkAfter]).toStrictEqual([
      'skipped_breaker_open',
      'breaker_open',
      null,
      null,
    ]);
    expect(skipped.error).toEqual(expect.any(String));
    expect(skipped.attempts).toStrictEqual([]);
    expect(simulator.callCount(KEY)).toBe(2 * RETRY_MAX_ATTEMPTS);
    const after = storedKeys(await api.state());
    if (JSON.stringify(after) !== JSON.stringify(before)) tally.watermarksLost += 1;
    expect(after).toStrictEqual(before);
    await api.expectLive();
    // Readiness shows the open breaker as degraded, not 503: this replica still serves the stored watermarks.
    const ready = await fetch(`${app.url}/health/ready`);
    const readiness = (await ready.json()) as Record<string, any>;
    expect([
      ready.status,
      readiness.details.upstream.status,
      readiness.details.upstream.breaker,
      readiness.details.upstream.threshold,
    ]).toStrictEqual([200, 'degraded', 'open', 2]);

    await new Promise((resolve) => setTimeout(resolve, 1_100));
    simulator.script(KEY, { bodyFromVector: 'int64-ids.json' });
    const trial = await api.run();
    expect([trial.outcome, trial.errorCode, trial.watermarkAfter]).toStrictEqual(['succeeded', null, SEEDED_WATERMARK]);
    expect(simulator.callCount(KEY)).toBe(2 * RETRY_MAX_ATTEMPTS + 1);
    // closed again
    simulator.script(KEY, { bodyFromVector: 'int64-ids.json' });
    expect((await api.run()).outcome).toBe('succeeded');
    const closed = (await (await fetch(`${app.url}/health/ready`)).json()) as Record<string, any>;
    expect([closed.details.upstream.status, closed.details.upstream.breaker]).toStrictEqual(['up', 'closed']);
  });
});

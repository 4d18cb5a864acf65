import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect } from 'vitest';
import type { UpstreamSimulator } from '../../src/demo/simulator';
import { integrationPath, type RunningApp } from './app';

// What the upstream-faults.*.e2e.spec.ts files share: the integration, its seeded state and watermark, the
// settings, the facade of an app, and the tally of faults tried.

export const FIXTURES = join(process.cwd(), 'test/fixtures/upstream');
export const KEY = { sourceSystemId: 12, integrationName: 'Invoices' };
export const PATH = integrationPath(KEY.sourceSystemId, KEY.integrationName);
/** The state served after the upstream answered responses/int64-ids.json: every key is compared byte for byte. */
export const SEEDED_STATE = JSON.parse(readFileSync(join(FIXTURES, 'expected/int64-ids.json'), 'utf8')) as Record<
  string,
  unknown
>;
export const SEEDED_WATERMARK = {
  maxSyncDateTime: SEEDED_STATE.maxSyncDateTime,
  maxSyncDateTimeUtc: SEEDED_STATE.maxSyncDateTimeUtc,
  maxSyncDateMaxPkId: SEEDED_STATE.maxSyncDateMaxPkId,
};
export const UPSTREAM_TIMEOUT_MS = 3_000;
export const MAX_BODY_BYTES = 4_096;
export const RETRY_MAX_ATTEMPTS = 2;
export const JSON_TYPE = { 'Content-Type': 'application/json; charset=utf-8' };
/** responses/int64-ids.json as text, edited as text so that the PK id beyond 2^53 stays exact. */
export const SEED_BODY = readFileSync(join(FIXTURES, 'responses/int64-ids.json'), 'utf8');
export function editedSeed(from: string, to: string): string {
  expect(SEED_BODY).toContain(from);
  return SEED_BODY.replace(from, to);
}

export type Run = Record<string, any>;

export const tally = { faults: 0, watermarksLost: 0 };

/** Logs the tally of the calling file once its tests are done. */
export function reportFaultTally(): void {
  afterAll(() => {
    console.log(`upstream faults: ${tally.faults} faults tried, ${tally.watermarksLost} watermarks lost`);
  });
}

/** The facade of one app: trigger a run, read the state, probe liveness. */
export function facade(app: () => RunningApp) {
  const request = (path: string, init: RequestInit = {}) =>
    fetch(app().url + path, { ...init, signal: AbortSignal.timeout(20_000) });
  return {
    async run(path = PATH): Promise<Run> {
      const response = await request(`${path}/runs`, { method: 'POST' });
      const body = (await response.json()) as Run;
      expect([response.status, body]).toStrictEqual([201, expect.objectContaining({ trigger: 'manual' })]);
      return body;
    },
    async state(path = PATH): Promise<Record<string, unknown>> {
      const response = await request(path);
      expect(response.status).toBe(200);
      return (await response.json()) as Record<string, unknown>;
    },
    async expectLive(): Promise<void> {
      const response = await request('/health/live');
      expect([response.status, await response.json()]).toStrictEqual([200, { status: 'ok' }]);
    },
  };
}

/** The stored DTO keys (watermark included) as exact JSON texts, for byte-for-byte comparison. */
export function storedKeys(state: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.keys(SEEDED_STATE).map((key) => [key, JSON.stringify(state[key])]));
}

/** Runs once against responses/int64-ids.json so the stored watermark is the known one, then clears the simulator. */
export async function seedKnownWatermark(simulator: UpstreamSimulator, api: ReturnType<typeof facade>): Promise<void> {
  simulator.reset();
  simulator.script(KEY, { bodyFromVector: 'int64-ids.json' });
  const seed = await api.run();
  expect([seed.outcome, seed.watermarkAfter]).toStrictEqual(['succeeded', SEEDED_WATERMARK]);
  simulator.reset();
}

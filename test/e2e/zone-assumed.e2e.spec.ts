import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpstreamSimulator } from '../../src/demo/simulator';
import { NEVER, eventually, integrationPath, startApp, type RunningApp } from '../support/app';
import { createTestDatabase, type TestDatabase } from '../support/database';

/**
 * A watermark text without an offset is read in UPSTREAM_TIMEZONE, and that is visible: the state names the zone,
 * `tidemark_watermark_zone_assumed` is 1, and one warning is logged for the first such answer of the integration
 * (the database decides, under the integration's row lock). An answer with an offset clears it all; the next
 * offset-less answer warns again.
 */

const KEY = { sourceSystemId: 12, integrationName: 'Invoices' };
const PATH = integrationPath(KEY.sourceSystemId, KEY.integrationName);
const LABELS = 'source_system_id="12",integration_name="Invoices"';
const SEED_BODY = readFileSync(join(process.cwd(), 'test/fixtures/upstream/responses/int64-ids.json'), 'utf8');
const JSON_TYPE = { 'Content-Type': 'application/json; charset=utf-8' };

function bodyWithMaxSync(text: string): string {
  expect(SEED_BODY).toContain('"MaxSyncDateTime":"2026-01-31T17:59:59.9999999-06:00"');
  return SEED_BODY.replace('"MaxSyncDateTime":"2026-01-31T17:59:59.9999999-06:00"', `"MaxSyncDateTime":"${text}"`);
}

describe('assumed upstream zone e2e', () => {
  let db: TestDatabase;
  let simulator: UpstreamSimulator;
  let app: RunningApp;
  const lines: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('zone');
    simulator = new UpstreamSimulator();
    const upstream = await simulator.start();
    app = await startApp(
      {
        DATABASE_URL: db.url,
        UPSTREAM_BASE_URL: upstream,
        UPSTREAM_TIMEZONE: 'America/Chicago',
        INTEGRATIONS: JSON.stringify([{ ...KEY, cron: NEVER }]),
      },
      { logDestination: { write: (line: string) => void lines.push(line) } },
    );
  });

  afterAll(async () => {
    await app?.close();
    await simulator?.stop();
    await db?.drop();
  });

  const runWith = async (maxSync: string) => {
    simulator.script(KEY, { body: bodyWithMaxSync(maxSync), headers: JSON_TYPE });
    const response = await fetch(`${app.url}${PATH}/runs`, { method: 'POST' });
    expect(response.status).toBe(201);
    expect(((await response.json()) as { outcome: string }).outcome).toBe('succeeded');
    const state = (await (await fetch(`${app.url}${PATH}`)).json()) as Record<string, unknown>;
    return { state };
  };
  /** The gauge once the metrics' shared-state cache shows `value` (it is read from Postgres at most every few s). */
  const gaugeReaches = (value: string) =>
    eventually(async () => {
      const metrics = await (await fetch(`${app.url}/metrics`)).text();
      const gauge = /tidemark_watermark_zone_assumed\{([^}]*)\} (\d)\n/.exec(metrics);
      return gauge !== null && gauge[2] === value ? [gauge[1], gauge[2]] : null;
    });
  const warnings = () => lines.filter((line) => line.includes('has no UTC offset'));

  it('names the zone in the state and the gauge, and warns once per integration', async () => {
    const first = await runWith('2025-12-10T08:22:52.8100855');
    expect([
      first.state.maxSyncDateTime,
      first.state.maxSyncDateTimeUtc,
      first.state.maxSyncDateTimeZoneAssumed,
    ]).toStrictEqual(['2025-12-10T08:22:52.8100855', '2025-12-10T14:22:52.8100855Z', 'America/Chicago']);
    expect(await gaugeReaches('1')).toStrictEqual([LABELS, '1']);
    expect(warnings()).toHaveLength(1);
    expect(JSON.parse(warnings()[0]) as Record<string, unknown>).toMatchObject({ level: 'warn' });
    expect(warnings()[0]).toContain('read in UPSTREAM_TIMEZONE America/Chicago');

    const second = await runWith('2025-12-10T09:00:00');
    expect(second.state.maxSyncDateTimeZoneAssumed).toBe('America/Chicago');
    expect(second.state.maxSyncDateTimeUtc).toBe('2025-12-10T15:00:00.0000000Z');
    expect(warnings()).toHaveLength(1);
  });

  it('clears the zone for an answer with an offset, and warns again when the offset goes missing again', async () => {
    const withOffset = await runWith('2025-12-10T10:00:00-06:00');
    expect(withOffset.state.maxSyncDateTimeZoneAssumed).toBeNull();
    expect(await gaugeReaches('0')).toStrictEqual([LABELS, '0']);
    expect(warnings()).toHaveLength(1);

    const sentinel = await runWith('9999-12-31T23:59:59.9999999');
    expect([sentinel.state.maxSyncDateTimeUtc, sentinel.state.maxSyncDateTimeZoneAssumed]).toStrictEqual([
      '9999-12-31T23:59:59.9999999Z',
      'America/Chicago',
    ]);
    expect(await gaugeReaches('1')).toStrictEqual([LABELS, '1']);
    expect(warnings()).toHaveLength(2);
  });
});

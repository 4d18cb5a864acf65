import { describe, expect, it } from 'vitest';
import { StaleThresholds, decideStaleness } from '../../../src/events/staleness-decider';
import type { StalenessRow } from '../../../src/persistence/staleness.repository';

const row = (extra: Partial<StalenessRow>): StalenessRow => ({
  id: '1',
  sourceSystemId: 7,
  integrationName: 'Orders',
  cron: '0 */5 * * * *',
  timeZone: 'UTC',
  paused: false,
  lastSucceededAtSeconds: 1_000,
  lastSucceededAtText: '1970-01-01 00:16:40+00',
  createdAtSeconds: 0,
  nowSeconds: 1_100,
  stale: false,
  ...extra,
});

describe('staleness decisions', () => {
  it('flips a newly stale integration, recovers a fresh one, and leaves paused ones alone', () => {
    const flips = decideStaleness(
      [
        row({ id: '1' }),
        row({ id: '2', integrationName: 'Fresh', nowSeconds: 1_050, stale: true }),
        row({ id: '3', integrationName: 'Paused', paused: true, stale: true }),
        row({ id: '4', integrationName: 'Known', stale: true }),
      ],
      60_000,
      'urn:t',
    );
    expect(flips).toStrictEqual([
      {
        integrationId: '1',
        stale: true,
        lastSucceededAtText: '1970-01-01 00:16:40+00',
        event: {
          type: 'tidemark.integration.stale',
          source: 'urn:t',
          subject: '7/Orders',
          integrationId: '1',
          runId: null,
          data: { lastSucceededAt: '1970-01-01T00:16:40.000Z', staleForSeconds: 100, staleAfterMs: 60_000 },
        },
      },
      {
        integrationId: '2',
        stale: false,
        lastSucceededAtText: '1970-01-01 00:16:40+00',
        event: {
          type: 'tidemark.integration.recovered',
          source: 'urn:t',
          subject: '7/Fresh',
          integrationId: '2',
          runId: null,
          data: { lastSucceededAt: '1970-01-01T00:16:40.000Z' },
        },
      },
    ]);
  });
});

describe('remembered staleness thresholds', () => {
  it('decide as the interval rule does, recomputing only when the baseline or schedule changes', () => {
    const thresholds = new StaleThresholds();
    // Every 5 minutes: 3x is 900 s; the first row is 100 s past its last success, the second 1,000 s.
    const rows = [row({ id: '1' }), row({ id: '2', integrationName: 'Late', lastSucceededAtSeconds: 100 })];
    thresholds.begin();
    const remembered = decideStaleness(rows, null, 'urn:t', thresholds);
    thresholds.end();
    expect(remembered).toStrictEqual(decideStaleness(rows, null, 'urn:t'));
    expect(remembered.map((f) => [f.integrationId, f.stale, f.event.data])).toStrictEqual([
      ['2', true, { lastSucceededAt: '1970-01-01T00:01:40.000Z', staleForSeconds: 1_000, staleAfterMs: 900_000 }],
    ]);
    expect(thresholds.size).toBe(2);
    // Hourly now, and integration 2 succeeded at 1,000: its threshold is computed again (3 h), 1's is forgotten.
    const later = [row({ id: '2', integrationName: 'Late', cron: '0 0 * * * *', nowSeconds: 2_000, stale: true })];
    thresholds.begin();
    const flips = decideStaleness(later, null, 'urn:t', thresholds);
    thresholds.end();
    expect(flips.map((f) => [f.integrationId, f.stale])).toStrictEqual([['2', false]]);
    expect(thresholds.size).toBe(1);
    expect(
      decideStaleness([{ ...later[0], nowSeconds: 1_000 + 3 * 3600 + 1 }], null, 'urn:t', thresholds),
    ).toStrictEqual([]);
  });
});

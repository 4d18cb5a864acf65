import { describe, expect, it } from 'vitest';
import { findStale } from '../../../src/observability/integration-states';
import type { IntegrationStateRow } from '../../../src/persistence/metrics.repository';

const NOW = Date.parse('2026-03-02T12:00:00Z') / 1000;

function row(overrides: Partial<IntegrationStateRow>): IntegrationStateRow {
  return {
    sourceSystemId: 1,
    integrationName: 'Orders',
    cron: '0 */5 * * * *',
    timeZone: 'UTC',
    paused: false,
    consecutiveFailures: 0,
    lastSucceededAtSeconds: NOW - 60,
    watermarkLagSeconds: 60,
    createdAtSeconds: NOW - 86_400,
    watermarkRegressions: 0,
    nowSeconds: NOW,
    ...overrides,
  };
}

describe('findStale', () => {
  it('defaults to 3x the cron interval after the last success', () => {
    const fresh = row({ lastSucceededAtSeconds: NOW - 14 * 60 });
    const stale = row({ integrationName: 'Late', lastSucceededAtSeconds: NOW - 16 * 60 });
    expect(findStale([fresh, stale], null)).toStrictEqual([
      {
        sourceSystemId: 1,
        integrationName: 'Late',
        lastSucceededAt: '2026-03-02T11:44:00.000Z',
        staleForSeconds: 960,
        staleAfterMs: 900_000,
      },
    ]);
  });

  it('uses STALE_AFTER_MS when set, counts from creation before any success, and skips paused integrations', () => {
    const never = row({ integrationName: 'New', lastSucceededAtSeconds: null, createdAtSeconds: NOW - 120 });
    const paused = row({ integrationName: 'Paused', paused: true, lastSucceededAtSeconds: NOW - 3600 });
    const recent = row({ integrationName: 'Recent', lastSucceededAtSeconds: NOW - 30 });
    expect(
      findStale([never, paused, recent], 60_000).map((s) => [s.integrationName, s.lastSucceededAt, s.staleForSeconds]),
    ).toStrictEqual([['New', null, 120]]);
  });

  it('measures an hourly cron in its own zone', () => {
    const hourly = row({ cron: '0 0 * * * *', timeZone: 'America/Chicago', lastSucceededAtSeconds: NOW - 2.5 * 3600 });
    expect(findStale([hourly], null)).toStrictEqual([]);
    expect(findStale([{ ...hourly, lastSucceededAtSeconds: NOW - 3.5 * 3600 }], null)).toHaveLength(1);
  });
});

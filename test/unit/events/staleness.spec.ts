import { describe, expect, it } from 'vitest';
import { decideStaleness } from '../../../src/events/staleness-decider';
import type { StalenessRow } from '../../../src/persistence/outbox.repository';

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

import { describe, expect, it } from 'vitest';
import { describeDrift, driftOf, hasDrift } from '../../../src/persistence/integration-drift';

const row = (sourceSystemId: number, integrationName: string, extra: Record<string, unknown>) => ({
  source_system_id: sourceSystemId,
  integration_name: integrationName,
  cron: '* * * * * *',
  time_zone: 'UTC',
  misfire_policy: 'fire_once_now',
  enabled: true,
  configured: true,
  existed: true,
  old_cron: '* * * * * *',
  old_time_zone: 'UTC',
  old_misfire_policy: 'fire_once_now',
  old_enabled: true,
  stored: '3',
  ...extra,
});

describe('integration drift', () => {
  it('is empty for the statement row that only carries the counts', () => {
    const drift = driftOf([{ source_system_id: null, stored: '4' }]);
    expect(drift).toStrictEqual({ storedBefore: 4, added: [], disabled: [], scheduleChanged: [] });
    expect(hasDrift(drift)).toBe(false);
  });

  it('sorts each kind of change by key and leaves out rows whose configured fields did not change', () => {
    const drift = driftOf([
      row(9, 'Zeta', { existed: false, old_cron: null }),
      row(2, 'b', { configured: false, enabled: false }),
      row(2, 'a', { configured: false, enabled: false }),
      row(1, 'Same', {}),
      row(1, 'Off', { enabled: false }),
    ]);
    expect(drift).toStrictEqual({
      storedBefore: 3,
      added: [{ sourceSystemId: 9, integrationName: 'Zeta' }],
      disabled: [
        { sourceSystemId: 2, integrationName: 'a' },
        { sourceSystemId: 2, integrationName: 'b' },
      ],
      scheduleChanged: [{ sourceSystemId: 1, integrationName: 'Off', changes: { enabled: { from: true, to: false } } }],
    });
    expect(describeDrift(drift)).toBe(
      'added 9/"Zeta"; disabled 2/"a", 2/"b"; schedule changed 1/"Off" (enabled true -> false)',
    );
  });

  it('names at most 20 integrations per kind of change and counts the rest', () => {
    const drift = driftOf(Array.from({ length: 23 }, (_, i) => row(100 + i, `N${i}`, { existed: false })));
    const names = Array.from({ length: 20 }, (_, i) => `${100 + i}/"N${i}"`).join(', ');
    expect(describeDrift(drift)).toBe(`added ${names} and 3 more`);
  });
});

import { describe, expect, it } from 'vitest';
import { loadConfig, type Env } from '../../../src/config';
import { configHash } from '../../../src/config/config-hash';

const BASE: Env = {
  DATABASE_URL: 'postgres://tidemark:first-secret@db.internal:5432/tidemark',
  UPSTREAM_BASE_URL: 'https://erp.example.com',
  UPSTREAM_AUTH: 'bearer',
  UPSTREAM_TOKEN: 'token-one',
  INTEGRATIONS: JSON.stringify([
    { sourceSystemId: 1, integrationName: 'Orders', cron: '0 */5 * * * *' },
    { sourceSystemId: 2, integrationName: 'Invoices', cron: '0 0 * * * *' },
  ]),
};
const hashOf = (env: Env) => configHash(loadConfig({ ...BASE, ...env }, '/srv'));

describe('configHash', () => {
  it('is 16 hex digits and the same for the same settings', () => {
    expect(hashOf({})).toMatch(/^[0-9a-f]{16}$/);
    expect(hashOf({})).toBe(hashOf({}));
  });

  it('ignores what differs per replica by design, secrets, credentials in DATABASE_URL, and the order of INTEGRATIONS', () => {
    const reordered = JSON.stringify([...(JSON.parse(BASE.INTEGRATIONS!) as unknown[])].reverse());
    expect(
      hashOf({
        REPLICA_ID: 'pod-7',
        PORT: '8081',
        UPSTREAM_TOKEN: 'token-two',
        DATABASE_URL: 'postgres://other:second-secret@db.internal:5432/tidemark',
        INTEGRATIONS: reordered,
      }),
    ).toBe(hashOf({}));
  });

  it('changes with the integration set, a schedule, or any other effective setting', () => {
    const base = hashOf({});
    const changed = [
      hashOf({
        INTEGRATIONS: JSON.stringify([{ sourceSystemId: 1, integrationName: 'Orders', cron: '0 */5 * * * *' }]),
      }),
      hashOf({
        INTEGRATIONS: JSON.stringify([
          { sourceSystemId: 1, integrationName: 'Orders', cron: '0 */10 * * * *' },
          { sourceSystemId: 2, integrationName: 'Invoices', cron: '0 0 * * * *' },
        ]),
      }),
      hashOf({ UPSTREAM_BASE_URL: 'https://erp2.example.com' }),
      hashOf({ DATABASE_URL: 'postgres://tidemark:first-secret@db.internal:5432/other' }),
      hashOf({ MAX_CONCURRENT_RUNS: '8' }),
    ];
    expect(new Set([base, ...changed]).size).toBe(changed.length + 1);
  });
});

import { describe, expect, it } from 'vitest';
import { loadConfig, type Env } from '../../../src/config';
import { configHash } from '../../../src/config/config-hash';

const BASE: Env = {
  DATABASE_URL: 'postgres://tidemark@db.internal:5432/tidemark',
  UPSTREAM_BASE_URL: 'https://erp.example.com',
  INTEGRATIONS: JSON.stringify([{ sourceSystemId: 1, integrationName: 'Orders', cron: '0 */5 * * * *' }]),
};
const secret = (byte: number) => `whsec_${Buffer.alloc(32, byte).toString('base64')}`;
const webhooks = (url: string, key: string, types = ['tidemark.watermark.*']) =>
  JSON.stringify([{ name: 'sink', url, secret: key, types }]);
const hashOf = (env: Env) => configHash(loadConfig({ ...BASE, ...env }, '/srv'));

describe('configHash with webhooks', () => {
  it('ignores the signing secret and the credentials in a webhook URL', () => {
    expect(hashOf({ WEBHOOKS: webhooks('https://u:one@hooks.example/in', secret(1)) })).toBe(
      hashOf({ WEBHOOKS: webhooks('https://v:two@hooks.example/in', secret(2)) }),
    );
  });

  it('changes with a subscription, its URL or its types', () => {
    const base = hashOf({ WEBHOOKS: webhooks('https://hooks.example/in', secret(1)) });
    expect(
      new Set([
        base,
        hashOf({}),
        hashOf({ WEBHOOKS: webhooks('https://hooks.example/other', secret(1)) }),
        hashOf({ WEBHOOKS: webhooks('https://hooks.example/in', secret(1), ['tidemark.run.failed']) }),
      ]).size,
    ).toBe(4);
  });
});

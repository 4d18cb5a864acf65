import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type Env } from '../../../src/config';

function problemsOf(load: () => unknown): string[] {
  try {
    load();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

const serviceProblems = (env: Env): string[] => problemsOf(() => loadConfig(env, '/srv'));

const PRODUCTION = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://db/x',
  UPSTREAM_BASE_URL: 'https://erp',
  AUTH_DISABLED: 'true',
};

describe('an empty integration list', () => {
  it('is refused in production, naming the variable it came from and why, and accepted outside production', () => {
    expect(serviceProblems({ ...PRODUCTION, INTEGRATIONS: '[]' })).toStrictEqual([
      'INTEGRATIONS: must list at least one integration when NODE_ENV=production (an empty list would disable every integration of every replica sharing the database)',
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'tidemark-config-'));
    writeFileSync(join(dir, 'integrations.json'), ' [ ] ');
    expect(problemsOf(() => loadConfig({ ...PRODUCTION, INTEGRATIONS_FILE: 'integrations.json' }, dir))).toStrictEqual([
      'INTEGRATIONS_FILE: must list at least one integration when NODE_ENV=production (an empty list would disable every integration of every replica sharing the database)',
    ]);
    for (const nodeEnv of ['development', 'test']) {
      const config = loadConfig({ ...PRODUCTION, NODE_ENV: nodeEnv, INTEGRATIONS: '[]' }, '/');
      expect(config.integrations).toStrictEqual([]);
      expect(config.demoIntegrations).toBe(false);
    }
  });
});

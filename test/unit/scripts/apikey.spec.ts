import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config';

const SCRIPT = join(process.cwd(), 'scripts/apikey.mjs');

describe('npm run apikey (scripts/apikey.mjs)', () => {
  it('prints a random 32-byte base64url key, its sha256 hash and an API_KEYS value that config accepts', () => {
    const output = execFileSync(process.execPath, [SCRIPT, 'billing-sync', 'read,operate'], { encoding: 'utf8' });
    const key = /^ {2}([A-Za-z0-9_-]{43})$/m.exec(output)![1];
    expect(Buffer.from(key, 'base64url')).toHaveLength(32);
    const hash = `sha256:${createHash('sha256').update(key).digest('hex')}`;
    expect(output).toContain(`Hash: ${hash}`);
    const apiKeys = /API_KEYS='(.*)'$/m.exec(output)![1];
    expect(JSON.parse(apiKeys)).toStrictEqual([{ name: 'billing-sync', keyHash: hash, scopes: ['read', 'operate'] }]);
    const config = loadConfig({ API_KEYS: apiKeys }, process.cwd());
    expect(config.access.apiKeys).toStrictEqual([
      { name: 'billing-sync', sha256Hex: hash.slice(7), scopes: ['read', 'operate'] },
    ]);
    const again = execFileSync(process.execPath, [SCRIPT], { encoding: 'utf8' });
    expect(again).toContain('"scopes":["read"]');
    expect(/^ {2}([A-Za-z0-9_-]{43})$/m.exec(again)![1]).not.toBe(key);
  });

  it('refuses a bad name or scope with a usage message', () => {
    for (const args of [['bad name'], ['ok', 'admin']]) {
      const result = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8' });
      expect([result.status, result.stderr]).toStrictEqual([2, expect.stringContaining('usage: npm run apikey')]);
    }
  });
});

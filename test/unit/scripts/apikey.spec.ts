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

  it('refuses a bad argument with one line naming it and the rule, exit 2, and prints nothing else', () => {
    const cases: Array<[string[], string]> = [
      [['bad name'], 'name "bad name": must be 1 to 64 of A-Z a-z 0-9 . _ -'],
      [['ok', 'admin'], 'scopes "admin": must be read, operate or read,operate'],
      [['ok', 'read', 'extra'], '"extra": takes at most a name and scopes'],
      [['--bogus'], '--bogus: is not a known option'],
    ];
    for (const [args, problem] of cases) {
      const result = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8' });
      expect([result.status, result.stdout, result.stderr]).toStrictEqual([
        2,
        '',
        `apikey: ${problem}; run with --help for usage\n`,
      ]);
    }
  });

  it('prints its usage for --help, exit 0, and makes no key', () => {
    const result = spawnSync(process.execPath, [SCRIPT, '--help'], { encoding: 'utf8' });
    expect([result.status, result.stderr, result.stdout.split('\n')[0]]).toStrictEqual([
      0,
      '',
      'usage: npm run apikey -- [name] [scopes]',
    ]);
    expect(result.stdout).not.toContain('API_KEYS');
  });
});

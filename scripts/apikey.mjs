#!/usr/bin/env node
// Makes a facade API key: `npm run apikey -- [name] [scopes]`, e.g. `npm run apikey -- billing-sync read,operate`.
// Prints the key once (only its hash is configured, so it can't be shown again) and the API_KEYS entry for it.
// Plain Node with no dependencies, so that it works on a fresh clone before any build.
import { createHash, randomBytes } from 'node:crypto';

const NAME = /^[A-Za-z0-9._-]{1,64}$/; // as API_KEYS[].name is validated (src/config/env.schema.ts)
const SCOPES = new Set(['read', 'operate']);

const [name = 'client', scopeList = 'read'] = process.argv.slice(2);
const scopes = [
  ...new Set(
    scopeList
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  ),
];
if (!NAME.test(name) || scopes.length === 0 || scopes.some((s) => !SCOPES.has(s))) {
  process.stderr.write('usage: npm run apikey -- [name] [scopes]\n');
  process.stderr.write('  name:   1 to 64 of A-Z a-z 0-9 . _ - (default: client)\n');
  process.stderr.write('  scopes: read, operate or read,operate (default: read)\n');
  process.exit(2);
}

// 32 random bytes: 256 bits, far beyond guessing; base64url so it travels in headers unquoted.
const key = randomBytes(32).toString('base64url');
const keyHash = `sha256:${createHash('sha256').update(key, 'utf8').digest('hex')}`;
const entry = { name, keyHash, scopes };

process.stdout.write(
  [
    `API key for "${name}" (shown once; give it to the client, keep it out of source control):`,
    '',
    `  ${key}`,
    '',
    'Clients send it as "Authorization: Bearer <key>" or "X-API-Key: <key>".',
    '',
    `Hash: ${keyHash}`,
    '',
    'API_KEYS entry (add it to the JSON array; the service never needs the key itself):',
    '',
    `  ${JSON.stringify(entry)}`,
    '',
    'A complete API_KEYS value with only this key:',
    '',
    `  API_KEYS='${JSON.stringify([entry])}'`,
    '',
  ].join('\n'),
);

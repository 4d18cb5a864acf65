#!/usr/bin/env node
// Makes a facade API key: `npm run apikey -- [name] [scopes]`, e.g. `npm run apikey -- billing-sync read,operate`.
// Prints the key once (only its hash is configured, so it can't be shown again) and the API_KEYS entry for it.
// Plain Node with no dependencies, so that it works on a fresh clone before any build.
import { createHash, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';

const NAME = /^[A-Za-z0-9._-]{1,64}$/; // as API_KEYS[].name is validated (src/config/env.schema.ts)
const SCOPES = new Set(['read', 'operate']);
const USAGE = [
  'usage: npm run apikey -- [name] [scopes]',
  '  name:   1 to 64 of A-Z a-z 0-9 . _ - (default: client)',
  '  scopes: read, operate or read,operate (default: read)',
  '',
].join('\n');

/** One line naming what is wrong, then exit 2 (a usage error), as the other CLIs do. */
function refuse(problem) {
  process.stderr.write(`apikey: ${problem}; run with --help for usage\n`);
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({ options: { help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
} catch (error) {
  const unknown = /Unknown option '([^']+)'/.exec(error.message);
  refuse(unknown ? `${unknown[1]}: is not a known option` : error.message.split('\n')[0]);
}
if (parsed.values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (parsed.positionals.length > 2) refuse(`${JSON.stringify(parsed.positionals[2])}: takes at most a name and scopes`);
const [name = 'client', scopeList = 'read'] = parsed.positionals;
const scopes = [
  ...new Set(
    scopeList
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  ),
];
if (!NAME.test(name)) refuse(`name ${JSON.stringify(name)}: must be 1 to 64 of A-Z a-z 0-9 . _ -`);
if (scopes.length === 0 || scopes.some((s) => !SCOPES.has(s))) {
  refuse(`scopes ${JSON.stringify(scopeList)}: must be read, operate or read,operate`);
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

import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REDACTED, scrubText, scrubValue } from '../../../src/observability/redaction';

const KEY = 'Qm9f2Lx7aYc1Yw0m2gkZ1pQxR4tUv8wZbK3d';
const SLASHED = 'Jc3x7cSgS/0nq4PL2+ab==';
const digests = new Set([KEY, SLASHED].map((key) => createHash('sha256').update(key).digest('hex')));
const e = encodeURIComponent;

describe('scrubText with configured API keys', () => {
  it.each([
    [`GET /integrations?x-api-key=${KEY}`, 'GET /integrations?x-api-key=[REDACTED]'],
    [`GET /integrations?auth=${KEY}&limit=2`, 'GET /integrations?auth=[REDACTED]&limit=2'],
    [`GET /integrations?authorization=Bearer%20${KEY}`, 'GET /integrations?authorization=[REDACTED]'],
    [`GET /integrations?authorization=Bearer+${KEY}`, 'GET /integrations?authorization=[REDACTED]'],
    [`GET /x?anything=${KEY}`, 'GET /x?anything=[REDACTED]'],
    [`GET /x?anything=${e(SLASHED)}`, 'GET /x?anything=[REDACTED]'],
    [`GET /x?next=Bearer%20not-a-configured-key-1234`, 'GET /x?next=[REDACTED]'],
    [`GET /x?id_token=eyJhbGciOi.eyJzdWIiOi.c2ln`, 'GET /x?id_token=[REDACTED]'],
    [`GET /x?v=eyJhbGciOi.eyJzdWIiOi.c2ln`, 'GET /x?v=[REDACTED]'],
    [`GET /integrations/12/${KEY}/runs`, 'GET /integrations/12/[REDACTED]/runs'],
    [`GET /integrations/12/${e(SLASHED)}`, 'GET /integrations/12/[REDACTED]'],
    [`agent/${SLASHED} (linux)`, 'agent/[REDACTED] (linux)'],
    [`cookie: session=${KEY}; theme=dark`, 'cookie: session=[REDACTED]; theme=dark'],
    [
      'GET /integrations?limit=2&cursor=WyJpIiwxLCJPcmRlcnMiXQ',
      'GET /integrations?limit=2&cursor=WyJpIiwxLCJPcmRlcnMiXQ',
    ],
    ['GET /integrations/12/Invoices%20and%20Orders/runs', 'GET /integrations/12/Invoices%20and%20Orders/runs'],
  ])('%s → %s', (text, scrubbed) => {
    expect(scrubText(text, [], digests)).toBe(scrubbed);
  });

  it('reaches every string of a logged object', () => {
    expect(scrubValue({ msg: `key ${KEY}`, nested: [{ url: `/x?q=${KEY}` }] }, [], digests)).toStrictEqual({
      msg: 'key [REDACTED]',
      nested: [{ url: '/x?q=[REDACTED]' }],
    });
  });
});

describe('scrubText tries each pattern only where it can match', () => {
  // The shortest key a run of key characters is searched for (16), besides the longer ones above.
  const SHORT = 'Kx16-chars_key.1';
  const keys = new Set([...digests, createHash('sha256').update(SHORT).digest('hex')]);
  // Every pattern applied to every text, as scrubText did before it checked for what each pattern needs.
  const everyPattern = (text: string, secrets: readonly string[]) => {
    let out = text;
    for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    out = out
      .replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"'<>]+@/gi, `$1${REDACTED}@`)
      .replace(/\b(Bearer|Basic)\s+(?![A-Za-z-]+=")[A-Za-z0-9._~+/-]{6,}=*/gi, `$1 ${REDACTED}`)
      // Query parameters whose name or value says credential, and configured keys, go through scrubText itself.
      .replace(/([?&])([^=&#\s?]*)=([^&#\s]*)/g, (whole) => scrubText(whole, [], keys));
    return out.replace(/[A-Za-z0-9._~+/%-]{16,1024}={0,2}/g, (candidate) => scrubText(candidate, [], keys));
  };
  const pieces = fc.constantFrom(
    KEY,
    SHORT,
    SLASHED,
    e(SLASHED),
    'postgres://user:pw@host/db',
    'https://h.example/p?token=abc&x=1',
    'Bearer abcdef123456',
    'Basic dXNlcjpwYXNz',
    'bearer abcdef123456',
    'BASIC dXNlcjpwYXNz',
    'bEaReR',
    '@',
    '=',
    '?',
    '&',
    '/',
    ' ',
    '"',
    'é',
    's3cr3t-pass',
    'abcdefghijklmno',
    'abcdefghijklmnop',
    '2026-12-04T18:00:00.1234567+00:00',
  );
  const texts = fc.oneof(
    fc.string(),
    fc.array(fc.oneof(pieces, fc.string({ maxLength: 4 })), { maxLength: 8 }).map((parts) => parts.join('')),
  );

  it('gives what applying every pattern gives', () => {
    fc.assert(
      fc.property(texts, (text) => {
        expect(scrubText(text, ['s3cr3t-pass'], keys)).toBe(everyPattern(text, ['s3cr3t-pass']));
      }),
      { numRuns: 3_000, seed: 20261204 },
    );
  });

  it.each([
    ['a run of 15 key characters is left alone', 'x abcdefghijklmno y', 'x abcdefghijklmno y'],
    ['a key after non-ASCII text is still found', `é${KEY}é`, `é${REDACTED}é`],
    ['a key of 16 characters is found', `x ${SHORT} y`, `x ${REDACTED} y`],
    [
      'userinfo needs its @',
      'postgres://user:pw@h and postgres://nouser/h',
      `postgres://${REDACTED}@h and postgres://nouser/h`,
    ],
  ])('%s', (_, text, scrubbed) => {
    expect(scrubText(text, [], keys)).toBe(scrubbed);
  });
});

describe('scrubText auth schemes, matched in any letter case (RFC 9110 §11.1)', () => {
  it.each([
    ['lower-case bearer', 'Authorization: bearer abc123def456', 'Authorization: bearer [REDACTED]'],
    ['upper-case BASIC', 'Authorization: BASIC dXNlcjpwYXNz', 'Authorization: BASIC [REDACTED]'],
    ['canonical Bearer', 'Authorization: Bearer abc123def456', 'Authorization: Bearer [REDACTED]'],
    ['mixed-case bEaReR', 'sent bEaReR eyJhbGciOi.x.y to upstream', 'sent bEaReR [REDACTED] to upstream'],
    ['mixed-case bAsIc with padding', 'auth=bAsIc dXNlcjpwYQ== failed', 'auth=bAsIc [REDACTED] failed'],
    [
      'a challenge in any case keeps its realm',
      'WWW-Authenticate: BEARER realm="tidemark"',
      'WWW-Authenticate: BEARER realm="tidemark"',
    ],
    ['a word merely containing the scheme is left alone', 'basically fine', 'basically fine'],
  ])('%s', (_, text, scrubbed) => {
    expect(scrubText(text)).toBe(scrubbed);
  });
});

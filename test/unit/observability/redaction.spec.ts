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

describe('scrubText with keys shaped like those `npm run apikey` makes', () => {
  // 32 random bytes in base64url, as scripts/apikey.mjs makes them; none of them configured.
  const GENERATED = 'ZiVNi5YO6_K-4s-ZGwmTSvj2wfaFaAeGj5Jge295UqI';
  const OTHER = 'c-8cc9BbZSrA2dCV6oFwg5eecz3HWgFyg0OQ0pt3iX4';
  // A configured key of the generated length with too few changes of class to look generated.
  const PLAIN = 'Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1';
  const plainDigest = new Set([createHash('sha256').update(PLAIN).digest('hex')]);

  it('cuts out every run shaped like a generated key, configured or not, and leaves words, cursors and digests', () => {
    const cases: Array<[string, string]> = [
      [`/integrations/1/x${GENERATED}`, '/integrations/1/[REDACTED]'],
      [`/integrations/1/${GENERATED}.json`, '/integrations/1/[REDACTED].json'],
      [`/integrations/1/${GENERATED}/runs`, '/integrations/1/[REDACTED]/runs'],
      [`/integrations?${GENERATED}=1`, '/integrations?[REDACTED]=1'],
      [`/integrations?limit=1&${OTHER}`, '/integrations?limit=1&[REDACTED]'],
      [`/integrations?q=x${GENERATED}y&limit=2`, '/integrations?q=[REDACTED]&limit=2'],
      [`/integrations/${OTHER}.${GENERATED}`, '/integrations/[REDACTED].[REDACTED]'],
      [`client/${GENERATED}`, 'client/[REDACTED]'],
      // Left alone: a cursor is base64url JSON, not random bytes; words change class at their edges only; a hex
      // digest has one letter case; a UUID and a run of 42 characters are too short.
      [
        '/integrations?cursor=WyJpIiwxMiwiQ3VzdG9tZXIgSW52b2ljZXMg4oCTIE5pZ2h0bHkgRXhwb3J0Il0',
        '/integrations?cursor=WyJpIiwxMiwiQ3VzdG9tZXIgSW52b2ljZXMg4oCTIE5pZ2h0bHkgRXhwb3J0Il0',
      ],
      [
        '/integrations/12/Customer_Invoices_2024_Export_Nightly_Full_Reload',
        '/integrations/12/Customer_Invoices_2024_Export_Nightly_Full_Reload',
      ],
      [
        '/integrations/12/CustomerInvoicesExportNightlyFullReload2024Q1',
        '/integrations/12/CustomerInvoicesExportNightlyFullReload2024Q1',
      ],
      [
        'config sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4b1b2b0b822cd15d6c15b0f00a08',
        'config sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4b1b2b0b822cd15d6c15b0f00a08',
      ],
      ['run 6f1c2a4e-8b7d-4c3a-9e2f-1a2b3c4d5e6f', 'run 6f1c2a4e-8b7d-4c3a-9e2f-1a2b3c4d5e6f'],
      [`/integrations/1/${GENERATED.slice(1)}`, `/integrations/1/${GENERATED.slice(1)}`],
      [`/integrations/1/x${PLAIN}`, `/integrations/1/x${PLAIN}`],
    ];
    expect(cases.map(([text]) => [text, scrubText(text, [])])).toStrictEqual(cases);
  });

  it('cuts out a configured key that does not look generated from a longer run and from a query name', () => {
    const cases: Array<[string, string]> = [
      [`/integrations/1/x${PLAIN}.json`, '/integrations/1/[REDACTED].json'],
      [`/integrations?${PLAIN}=1`, '/integrations?[REDACTED]=1'],
      [`/integrations?${e(SLASHED)}=1`, '/integrations?[REDACTED]=1'],
    ];
    const keys = new Set([...plainDigest, ...digests]);
    expect(cases.map(([text]) => [text, scrubText(text, [], keys)])).toStrictEqual(cases);
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
    out = out.replace(/[A-Za-z0-9._~+/%-]{16,1024}={0,2}/g, (candidate) => scrubText(candidate, [], keys));
    return out.replace(/[A-Za-z0-9_-]{43,}/g, (run) => scrubText(run, [], keys));
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

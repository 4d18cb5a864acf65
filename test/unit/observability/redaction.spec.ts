import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { scrubText, scrubValue } from '../../../src/observability/redaction';

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

import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ApiKeyAuthenticator } from '../../../src/http/auth/api-key.authenticator';
import { ProblemException } from '../../../src/http/problem';

const hex = (key: string) => createHash('sha256').update(key).digest('hex');
const authenticator = new ApiKeyAuthenticator([
  { name: 'reader', sha256Hex: hex('read-key'), scopes: ['read'] },
  { name: 'ops', sha256Hex: hex('ops-key'), scopes: ['read', 'operate'] },
]);
const req = (headers: Record<string, string | string[]>) => ({ headers });

function problemOf(fn: () => unknown): ProblemException {
  try {
    fn();
  } catch (error) {
    if (error instanceof ProblemException) return error;
    throw error;
  }
  throw new Error('no problem thrown');
}

describe('ApiKeyAuthenticator', () => {
  it('reads the key from Authorization: Bearer (any case) or X-API-Key', () => {
    expect(authenticator.identify(req({ authorization: 'Bearer read-key' }))).toMatchObject({
      kind: 'key',
      key: { name: 'reader' },
    });
    expect(authenticator.identify(req({ authorization: 'bearer   ops-key ' }))).toMatchObject({
      kind: 'key',
      key: { name: 'ops' },
    });
    expect(authenticator.identify(req({ 'x-api-key': 'ops-key' }))).toMatchObject({
      kind: 'key',
      key: { name: 'ops' },
    });
    expect(authenticator.identify(req({ authorization: 'Basic cmVhZC1rZXk=' }))).toStrictEqual({ kind: 'missing' });
    expect(authenticator.identify(req({}))).toStrictEqual({ kind: 'missing' });
    expect(authenticator.identify(req({ 'x-api-key': 'read-key2' }))).toStrictEqual({ kind: 'unknown' });
    expect(authenticator.identify(req({ 'x-api-key': 'x'.repeat(5000) }))).toStrictEqual({ kind: 'unknown' });
  });

  it('answers 401 with a challenge, 403 for a missing scope, and the principal otherwise', () => {
    const missing = problemOf(() => authenticator.authorize(req({}), 'read'));
    expect([missing.problem.status, missing.headers['WWW-Authenticate']]).toStrictEqual([
      401,
      'Bearer realm="tidemark"',
    ]);
    for (const authorization of ['Basic cmVhZC1rZXk=', 'Token read-key', 'Bearer']) {
      const wrongScheme = problemOf(() => authenticator.authorize(req({ authorization }), 'read'));
      expect([authorization, wrongScheme.problem.detail, wrongScheme.headers['WWW-Authenticate']]).toStrictEqual([
        authorization,
        'The Authorization header must be "Bearer <key>" (or send the key as "X-API-Key: <key>").',
        'Bearer realm="tidemark", error="invalid_request"',
      ]);
    }
    const unknown = problemOf(() => authenticator.authorize(req({ 'x-api-key': 'nope' }), 'read'));
    expect([unknown.problem.status, unknown.headers['WWW-Authenticate']]).toStrictEqual([
      401,
      'Bearer realm="tidemark", error="invalid_token"',
    ]);
    const forbidden = problemOf(() => authenticator.authorize(req({ 'x-api-key': 'read-key' }), 'operate'));
    expect([forbidden.problem.status, forbidden.problem.type]).toStrictEqual([
      403,
      'https://tidemark.dev/problems/forbidden',
    ]);
    expect(authenticator.authorize(req({ 'x-api-key': 'ops-key' }), 'operate')).toStrictEqual({
      name: 'ops',
      scopes: ['read', 'operate'],
    });
  });
});

describe('ApiKeyAuthenticator remembers proven keys only', () => {
  it('answers a key the same way every time, and remembers at most one string per configured key', () => {
    const fresh = new ApiKeyAuthenticator([
      { name: 'reader', sha256Hex: hex('read-key'), scopes: ['read'] },
      { name: 'ops', sha256Hex: hex('ops-key'), scopes: ['read', 'operate'] },
    ]);
    const remembered = () => (fresh as unknown as { known: Map<string, unknown> }).known.size;
    for (let i = 0; i < 3; i++) {
      // A new request object each time: the per-request memo does not answer, the remembered key does.
      expect(fresh.identify(req({ authorization: 'Bearer read-key' }))).toStrictEqual({
        kind: 'key',
        key: { name: 'reader', sha256Hex: hex('read-key'), scopes: ['read'] },
      });
      expect(fresh.identify(req({ 'x-api-key': 'ops-key' }))).toStrictEqual({
        kind: 'key',
        key: { name: 'ops', sha256Hex: hex('ops-key'), scopes: ['read', 'operate'] },
      });
    }
    for (let i = 0; i < 1_000; i++)
      expect(fresh.identify(req({ 'x-api-key': `guess-${i}` }))).toStrictEqual({ kind: 'unknown' });
    expect(fresh.identify(req({ 'x-api-key': 'read-key ' }))).toStrictEqual({
      kind: 'key',
      key: { name: 'reader', sha256Hex: hex('read-key'), scopes: ['read'] },
    });
    expect(fresh.identify(req({ 'x-api-key': 'read-keY' }))).toStrictEqual({ kind: 'unknown' });
    expect(remembered()).toBe(2);
  });
});

import { describe, expect, it } from 'vitest';
import { parseJsonBody } from '../../../src/http/http-conventions';
import { ProblemException } from '../../../src/http/problem';

const PROTOTYPE_RULE = 'body: must not have a key named __proto__, nor constructor.prototype';

function refusal(text: string): unknown {
  try {
    parseJsonBody(text);
  } catch (error) {
    return error instanceof ProblemException ? error.problem : error;
  }
  return 'accepted';
}

describe('parseJsonBody', () => {
  it('returns any JSON value, keys in order', () => {
    expect(parseJsonBody('{"reason":"a","until":null}')).toStrictEqual({ reason: 'a', until: null });
    expect(parseJsonBody('[1,"two"]')).toStrictEqual([1, 'two']);
    expect(parseJsonBody('"text"')).toBe('text');
    expect(parseJsonBody('null')).toBe(null);
  });

  it('refuses text that is not JSON, with the parser’s reason', () => {
    expect(refusal('{"reason":')).toStrictEqual({
      type: 'https://tidemark.dev/problems/bad-request',
      title: 'Bad Request',
      status: 400,
      detail: 'body: must be valid JSON (Unexpected end of JSON input)',
    });
  });

  it('refuses __proto__ and constructor.prototype at any depth, and only those', () => {
    for (const text of [
      '{"__proto__":{"admin":true}}',
      '[{"a":{"__proto__":1}}]',
      '{"\\u005f_proto__":{}}',
      '{"constructor":{"prototype":{"x":1}}}',
    ]) {
      expect([text, (refusal(text) as { detail: string }).detail]).toStrictEqual([text, PROTOTYPE_RULE]);
    }
    // A key named constructor is ordinary data (compared as text: toStrictEqual reads `constructor` as the type).
    expect(JSON.stringify(parseJsonBody('{"constructor":{"name":"x"},"proto":1}'))).toBe(
      '{"constructor":{"name":"x"},"proto":1}',
    );
  });
});

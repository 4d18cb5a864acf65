import { describe, expect, it } from 'vitest';
import { jsonBodyOf, parseJsonBody } from '../../../src/http/json-body';
import { ProblemException } from '../../../src/http/problem';

const PROTOTYPE_RULE = 'body: must not have a key named __proto__, nor constructor.prototype';
const repeated = (key: string) =>
  `body: the key ${JSON.stringify(key)} appears twice in one object (the names within an object must be unique, as RFC 8259 §4 advises)`;

function refusal(text: string, read: (text: string) => unknown = parseJsonBody): unknown {
  try {
    read(text);
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

  it('refuses a key written twice in one object, naming it, at any depth', () => {
    expect(refusal('{"until":"2030-01-01T00:00:00Z","until":null}')).toStrictEqual({
      type: 'https://tidemark.dev/problems/bad-request',
      title: 'Bad Request',
      status: 400,
      detail: repeated('until'),
    });
    for (const [text, key] of [
      ['{"reason":"a","until":{"at":1,"at":2}}', 'at'],
      ['[{"a":1},{"b":true,"b":false}]', 'b'],
      ['{"items":[{"x":{"id":"1","id":1}}]}', 'id'],
      ['{"k\\u0065y":1,"key":2}', 'key'],
    ]) {
      const problem = refusal(text) as { status: number; detail: string };
      expect([text, problem.status, problem.detail]).toStrictEqual([text, 400, repeated(key)]);
    }
  });

  it('accepts the same key in different objects, and a repeat with an equal value', () => {
    expect(parseJsonBody('{"a":{"id":1},"b":{"id":2},"id":[{"id":3},{"id":4}]}')).toStrictEqual({
      a: { id: 1 },
      b: { id: 2 },
      id: [{ id: 3 }, { id: 4 }],
    });
    // Either reading of an equal repeat gives the same value.
    expect(parseJsonBody('{"until":null,"until":null,"n":{"x":[1],"x":[1.0]}}')).toStrictEqual({
      until: null,
      n: { x: [1] },
    });
  });

  it('refuses a body nested too deeply to check for repeated keys', () => {
    const text = '['.repeat(30_000) + ']'.repeat(30_000);
    expect((refusal(text) as { detail: string }).detail).toBe('body: must not nest arrays and objects thousands deep');
  });

  it('reads a body as sent: UTF-8, no content coding; an empty one is no body', () => {
    const json = { 'content-type': 'application/json; charset=UTF-8' };
    expect(jsonBodyOf(json, Buffer.from('{"reason":"café"}'))).toStrictEqual({ reason: 'café' });
    expect(jsonBodyOf({ ...json, 'content-encoding': 'identity' }, Buffer.from('[]'))).toStrictEqual([]);
    expect(jsonBodyOf({ 'content-type': 'application/json' }, Buffer.alloc(0))).toBe(undefined);
    const problemOf = (headers: Record<string, string>, body: Buffer) =>
      refusal('', () => jsonBodyOf(headers, body)) as { status: number; detail: string };
    expect(problemOf({ ...json, 'content-encoding': 'gzip' }, Buffer.from('x'))).toStrictEqual({
      type: 'https://tidemark.dev/problems/unsupported-media-type',
      title: 'Unsupported Media Type',
      status: 415,
      detail: 'content-encoding: must be absent or identity (request bodies are read as sent)',
    });
    expect(problemOf({ 'content-type': 'application/json; charset="utf-16"' }, Buffer.from('{}'))).toStrictEqual({
      type: 'https://tidemark.dev/problems/unsupported-media-type',
      title: 'Unsupported Media Type',
      status: 415,
      detail: 'content-type: charset must be utf-8 (JSON is UTF-8)',
    });
    expect(problemOf(json, Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xe9, 0x22, 0x7d]))).toStrictEqual({
      type: 'https://tidemark.dev/problems/bad-request',
      title: 'Bad Request',
      status: 400,
      detail: 'body: must be UTF-8 text',
    });
  });
});

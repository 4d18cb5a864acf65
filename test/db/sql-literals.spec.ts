import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from 'pg';
import { epochMs, sqlCount, sqlIds, sqlText, sqlTextArray } from '../../src/persistence/sql-literals';
import { createTestDatabase, type TestDatabase } from '../support/database';

/** Texts that could end or escape a literal if it were quoted wrongly. */
const TRICKY = [
  '',
  'plain',
  "it's",
  "''",
  '\\',
  'a\\\\b \\n \\x41',
  '$tm$',
  '$tm1$ and $tm$',
  'ends in $tm',
  'ends in $tm1',
  'ends in $',
  '$$',
  "'; DROP TABLE x; --",
  'ünïcødé ✓ 🚀',
  'control \u0001\u001f',
];

describe('SQL literals read back by Postgres', () => {
  let db: TestDatabase;
  let client: Client;
  beforeAll(async () => {
    db = await createTestDatabase('literals');
    client = new Client({ connectionString: db.url });
    await client.connect();
  });
  afterAll(async () => {
    await client?.end();
    await db?.drop();
  });

  it('sqlText gives back every text exactly, in one simple-protocol message with other statements', async () => {
    const texts = TRICKY;
    const statements = texts.map((text) => `SELECT ${sqlText(text)} AS v`).join(';\n');
    const results = (await client.query(statements)) as unknown as Array<{ rows: Array<{ v: string }> }>;
    expect(results.map((r) => r.rows[0].v)).toStrictEqual(texts);
  });

  it('sqlText picks a tag that occurs neither in the text nor across its end', () => {
    expect([sqlText('a'), sqlText('x$tm$y'), sqlText('ends in $tm'), sqlText('$tm1$ and $tm$')]).toStrictEqual([
      '$tm$a$tm$',
      '$tm1$x$tm$y$tm1$',
      '$tm1$ends in $tm$tm1$',
      '$tm2$$tm1$ and $tm$$tm2$',
    ]);
  });

  it('refuses a NUL in a text, a non-digit id and a count that is not a non-negative integer', () => {
    expect(() => sqlText('a\u0000b')).toThrow('a text written into a statement cannot hold a NUL character');
    expect(() => sqlIds(['1', '2 OR 1=1'])).toThrow('not a database id: "2 OR 1=1"');
    expect(() => sqlIds(['12345678901234567890'])).toThrow('not a database id');
    expect(() => sqlCount(-1)).toThrow('not a non-negative integer: -1');
    expect(() => sqlCount(1.5)).toThrow('not a non-negative integer: 1.5');
    expect(() => sqlCount(Number.NaN)).toThrow('not a non-negative integer: NaN');
  });

  it('sqlIds, sqlCount, sqlTextArray and epochMs read back as the values they stand for', async () => {
    const { rows } = await client.query(
      `SELECT ${sqlIds(['1', '9007199254740993', '9223372036854775807'])}::text[] AS ids, ${sqlIds([])}::text[] AS none,
              ${sqlCount(300)} AS n, ${sqlTextArray(['1,2', "it's", 'x$tm'])} AS texts,
              ${epochMs(`'2026-11-29 10:00:00.123999+00'::timestamptz`)} AS ms,
              ${epochMs('NULL::timestamptz')} AS none_ms`,
    );
    expect(rows[0]).toStrictEqual({
      ids: ['1', '9007199254740993', '9223372036854775807'],
      none: [],
      n: 300,
      texts: ['1,2', "it's", 'x$tm'],
      // Truncated to the millisecond, as pg's Date of the same value (a later instant is never made).
      ms: Date.parse('2026-11-29T10:00:00.123Z'),
      none_ms: null,
    });
  });
});

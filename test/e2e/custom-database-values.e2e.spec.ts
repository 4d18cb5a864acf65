import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpstreamSimulator } from '../../src/demo/simulator';
import { NEVER, integrationPath, startApp, type RunningApp } from '../support/app';
import { createTestDatabase, type TestDatabase } from '../support/database';

/**
 * `customDatabaseValues` is served in the upstream's order, for each form a .NET upstream writes a dictionary in:
 * a JSON object (Json.NET), `[{Key, Value}]` items (DataContractJsonSerializer) and DataContract XML
 * `KeyValueOfstringstring` items. The keys are in an order that neither a JS object ("10" and "2" first, ascending)
 * nor jsonb ("a" before "bb") would keep, so the raw body text is what is checked.
 */

const FIXTURES = join(process.cwd(), 'test/fixtures/upstream/responses');
const JSON_BODY = readFileSync(join(FIXTURES, 'int64-ids.json'), 'utf8');
const XML_BODY = readFileSync(join(FIXTURES, 'seed-sample.xml'), 'utf8');
const ARRAYS = 'http://schemas.microsoft.com/2003/10/Serialization/Arrays';
const JSON_TYPE = { 'Content-Type': 'application/json; charset=utf-8' };

/** One integration per case, so that no read can meet another case's cached state. */
const OBJECT = { sourceSystemId: 21, integrationName: 'Object' };
const ITEMS = { sourceSystemId: 22, integrationName: 'Items' };
const XML = { sourceSystemId: 2, integrationName: 'sample string 1' };
const EMPTY = { sourceSystemId: 23, integrationName: 'Empty' };
const NIL = { sourceSystemId: 24, integrationName: 'Nil' };

/** The served member, exactly: keys in the upstream's order, a null value, an empty one, escapes. */
const SERVED = '"customDatabaseValues":{"bb":"y","10":"ten","a":"","2":null,"é":"\\"q\\" 🚚"}';
const AS_OBJECT = '{"bb":"y","10":"ten","a":"","2":null,"é":"\\"q\\" 🚚"}';
const AS_ITEMS =
  '[{"Key":"bb","Value":"y"},{"Key":"10","Value":"ten"},{"Key":"a","Value":""},{"Key":"2","Value":null},' +
  '{"Key":"é","Value":"\\"q\\" 🚚"}]';

/** int64-ids.json, answered for `key`, with `dictionary` (JSON text) as its CustomDatabaseValues. */
function jsonWith(key: { sourceSystemId: number; integrationName: string }, dictionary: string): string {
  const identity = '"IntegrationName":"Invoices","SourceSystemId":12,';
  expect([JSON_BODY.includes(identity), JSON_BODY.includes('"CustomDatabaseValues":{}')]).toStrictEqual([true, true]);
  return JSON_BODY.replace(
    identity,
    `"IntegrationName":${JSON.stringify(key.integrationName)},"SourceSystemId":${key.sourceSystemId},`,
  ).replace('"CustomDatabaseValues":{}', `"CustomDatabaseValues":${dictionary}`);
}

function xmlWith(items: Array<[string, string | null]>): string {
  const start = XML_BODY.indexOf('<CustomDatabaseValues');
  const endTag = '</CustomDatabaseValues>';
  const end = XML_BODY.indexOf(endTag) + endTag.length;
  expect([start > 0, end > start]).toStrictEqual([true, true]);
  const written = items
    .map(
      ([key, value]) =>
        `<d2p1:KeyValueOfstringstring><d2p1:Key>${key}</d2p1:Key>` +
        (value === null ? '<d2p1:Value i:nil="true"/>' : `<d2p1:Value>${value}</d2p1:Value>`) +
        '</d2p1:KeyValueOfstringstring>',
    )
    .join('');
  return (
    XML_BODY.slice(0, start) +
    `<CustomDatabaseValues xmlns:d2p1="${ARRAYS}">${written}</CustomDatabaseValues>` +
    XML_BODY.slice(end)
  );
}

describe('customDatabaseValues order e2e', () => {
  let db: TestDatabase;
  let simulator: UpstreamSimulator;
  let app: RunningApp;

  beforeAll(async () => {
    db = await createTestDatabase('cdvorder');
    simulator = new UpstreamSimulator();
    const upstream = await simulator.start();
    app = await startApp({
      DATABASE_URL: db.url,
      UPSTREAM_BASE_URL: upstream,
      INTEGRATIONS: JSON.stringify([OBJECT, ITEMS, XML, EMPTY, NIL].map((key) => ({ ...key, cron: NEVER }))),
    });
  });

  afterAll(async () => {
    await app?.close();
    await simulator?.stop();
    await db?.drop();
  });

  /** Runs `key` once with `answer` scripted; returns the integration's path. */
  const runWith = async (
    key: { sourceSystemId: number; integrationName: string },
    answer: { body: string; headers: Record<string, string> },
  ) => {
    const path = integrationPath(key.sourceSystemId, key.integrationName);
    simulator.script(key, answer);
    const response = await fetch(`${app.url}${path}/runs`, { method: 'POST' });
    expect(response.status).toBe(201);
    expect(((await response.json()) as { outcome: string }).outcome).toBe('succeeded');
    return path;
  };
  const text = async (path: string, init?: RequestInit) => {
    const response = await fetch(`${app.url}${path}`, init);
    expect(response.status).toBe(200);
    return response.text();
  };

  it.each([
    ['a JSON object', OBJECT, AS_OBJECT],
    ['JSON [{Key, Value}] items', ITEMS, AS_ITEMS],
  ])('GET serves %s in the upstream order, from Nest and then from the cache', async (_what, key, dictionary) => {
    const path = await runWith(key, { body: jsonWith(key, dictionary), headers: JSON_TYPE });
    const first = await text(path);
    expect(first).toContain(`"sourceIdString":"ERP-12",${SERVED},"enabled":true,`);
    // The second read is answered by the fast path from the cached rendering.
    expect(await text(path)).toBe(first);
    expect(await text(`/integrations?sourceSystemId=${key.sourceSystemId}`)).toContain(
      `"sourceIdString":"ERP-12",${SERVED},"enabled":true,`,
    );
  });

  it('GET serves DataContract KeyValueOfstringstring items in the upstream order', async () => {
    const body = xmlWith([
      ['bb', 'y'],
      ['10', 'ten'],
      ['a', ''],
      ['2', null],
      ['é', '"q" 🚚'],
    ]);
    const path = await runWith(XML, { body, headers: { 'Content-Type': 'application/xml; charset=utf-8' } });
    expect(await text(path)).toContain(`"sourceIdString":"sample string 4",${SERVED},"enabled":true,`);
  });

  it('the operator actions and the dashboard overview serve the same order', async () => {
    const path = integrationPath(OBJECT.sourceSystemId, OBJECT.integrationName);
    const pause = { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"reason":"order test"}' };
    expect(await text(`${path}/pause`, pause)).toContain(SERVED);
    expect(await text(`${path}/resume`, { method: 'POST' })).toContain(SERVED);
    expect(await text(`/overview?sourceSystemId=${OBJECT.sourceSystemId}`)).toContain(SERVED);
  });

  it('serves an empty dictionary as {} and a nil one as null', async () => {
    const empty = await runWith(EMPTY, { body: jsonWith(EMPTY, '{}'), headers: JSON_TYPE });
    expect(await text(empty)).toContain('"sourceIdString":"ERP-12","customDatabaseValues":{},"enabled":true,');
    const nil = await runWith(NIL, { body: jsonWith(NIL, 'null'), headers: JSON_TYPE });
    expect(await text(nil)).toContain('"sourceIdString":"ERP-12","customDatabaseValues":null,"enabled":true,');
  });
});

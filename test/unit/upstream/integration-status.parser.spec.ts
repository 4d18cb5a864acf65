import { readFileSync, readdirSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  UpstreamBodyUnreadableError,
  UpstreamError,
  UpstreamIdentityMismatchError,
  UpstreamNotDtoError,
} from '../../../src/upstream/errors';
import type { IntegrationStatus } from '../../../src/upstream/integration-status';
import {
  assertSameIntegration,
  bodyExcerpt,
  parseAspNetError,
  parseContentType,
  parseIntegrationStatus,
  parseXmlDocument,
  sameIntegrationName,
} from '../../../src/upstream/integration-status.parser';
import { expectedStatus } from './support/expected';

const FIXTURES = resolve(__dirname, '../../fixtures/upstream');
const OPTIONS = { defaultTimeZone: 'America/Chicago' };
const JSON_TYPE = 'application/json; charset=utf-8';
const XML_TYPE = 'application/xml; charset=utf-8';

function fixture(path: string): string {
  return readFileSync(join(FIXTURES, path), 'utf8');
}

const expected = expectedStatus;

const SEED_EXPECTED = expected('seed-sample');
const SEED_JSON = fixture('responses/seed-sample-compact.json');
const SEED_XML = fixture('responses/seed-sample.xml');

function parseJson(body: string | Buffer, contentType: string | undefined = JSON_TYPE): IntegrationStatus {
  return parseIntegrationStatus(body, contentType, OPTIONS);
}

function parseXml(body: string | Buffer, contentType: string | undefined = XML_TYPE): IntegrationStatus {
  return parseIntegrationStatus(body, contentType, OPTIONS);
}

/** The seed JSON with some members replaced (raw JSON text values) or removed (undefined). */
function seedJsonWith(replacements: Record<string, string | undefined>): string {
  const members: Record<string, string> = {
    IntegrationName: '"sample string 1"',
    SourceSystemId: '2',
    LastRunStartDateTime: '"2025-12-10T08:22:52.8100855-06:00"',
    LastRunEndDateTime: '"2025-12-10T08:22:52.8100855-06:00"',
    ProcessStatusMeaning: '"sample string 3"',
    MaxSyncDateTime: '"2025-12-10T08:22:52.8100855-06:00"',
    MaxSyncDateMaxPKId: '1',
    SourceId: '1',
    SourceIdString: '"sample string 4"',
    CustomDatabaseValues: '{"sample string 1":"sample string 2","sample string 3":"sample string 4"}',
  };
  for (const [name, value] of Object.entries(replacements)) {
    if (value === undefined) delete members[name];
    else members[name] = value;
  }
  return `{${Object.entries(members)
    .map(([name, value]) => `${JSON.stringify(name)}:${value}`)
    .join(',')}}`;
}

/** The seed XML with the given child elements (raw XML) replacing the originals, in any order. */
function seedXmlWith(replacements: Record<string, string | undefined>): string {
  const elements: Record<string, string> = {
    IntegrationName: '<IntegrationName>sample string 1</IntegrationName>',
    SourceSystemId: '<SourceSystemId>2</SourceSystemId>',
    LastRunStartDateTime: '<LastRunStartDateTime>2025-12-10T08:22:52.8100855-06:00</LastRunStartDateTime>',
    LastRunEndDateTime: '<LastRunEndDateTime>2025-12-10T08:22:52.8100855-06:00</LastRunEndDateTime>',
    ProcessStatusMeaning: '<ProcessStatusMeaning>sample string 3</ProcessStatusMeaning>',
    MaxSyncDateTime: '<MaxSyncDateTime>2025-12-10T08:22:52.8100855-06:00</MaxSyncDateTime>',
    MaxSyncDateMaxPKId: '<MaxSyncDateMaxPKId>1</MaxSyncDateMaxPKId>',
    SourceId: '<SourceId>1</SourceId>',
    SourceIdString: '<SourceIdString>sample string 4</SourceIdString>',
    CustomDatabaseValues:
      '<CustomDatabaseValues xmlns:d2p1="http://schemas.microsoft.com/2003/10/Serialization/Arrays">' +
      '<d2p1:KeyValueOfstringstring><d2p1:Key>sample string 1</d2p1:Key><d2p1:Value>sample string 2</d2p1:Value></d2p1:KeyValueOfstringstring>' +
      '<d2p1:KeyValueOfstringstring><d2p1:Key>sample string 3</d2p1:Key><d2p1:Value>sample string 4</d2p1:Value></d2p1:KeyValueOfstringstring>' +
      '</CustomDatabaseValues>',
  };
  for (const [name, value] of Object.entries(replacements)) {
    if (value === undefined) delete elements[name];
    else elements[name] = value;
  }
  return (
    '<IntegrationStatusDTO xmlns:i="http://www.w3.org/2001/XMLSchema-instance" xmlns="http://schemas.datacontract.org/2004/07/Gravitate.WCF.DTO.Integration">' +
    Object.values(elements).join('') +
    '</IntegrationStatusDTO>'
  );
}

function thrown(fn: () => unknown): UpstreamError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(UpstreamError);
    return error as UpstreamError;
  }
  throw new Error('expected an UpstreamError');
}

function notDto(fn: () => unknown): UpstreamNotDtoError {
  const error = thrown(fn);
  expect(error).toBeInstanceOf(UpstreamNotDtoError);
  expect(error.code).toBe('not_a_dto');
  return error as UpstreamNotDtoError;
}

function unreadable(fn: () => unknown): UpstreamBodyUnreadableError {
  const error = thrown(fn);
  expect(error).toBeInstanceOf(UpstreamBodyUnreadableError);
  expect(error.code).toBe('body_unreadable');
  return error as UpstreamBodyUnreadableError;
}

describe('fixtures: every responses/ file gives exactly its expected/ twin', () => {
  const responseFiles = readdirSync(join(FIXTURES, 'responses')).sort();

  it('has fixtures, and an expected/ twin for each of them', () => {
    expect(responseFiles).toStrictEqual([
      'first-run-nil.xml',
      'first-run-null.json',
      'int64-ids.json',
      'seed-sample-compact.json',
      'seed-sample.json',
      'seed-sample.xml',
    ]);
    const twins = new Set(responseFiles.map((file) => `${file.slice(0, -extname(file).length)}.json`));
    expect([...twins].sort()).toStrictEqual(readdirSync(join(FIXTURES, 'expected')).sort());
  });

  it.each(responseFiles)('%s (bytes, Content-Type from the extension)', (file) => {
    const contentType = extname(file) === '.xml' ? XML_TYPE : JSON_TYPE;
    const body = readFileSync(join(FIXTURES, 'responses', file));
    const twin = expected(file.slice(0, -extname(file).length));
    expect(parseIntegrationStatus(body, contentType, OPTIONS)).toStrictEqual(twin);
  });

  it.each(responseFiles)('%s (as a string, and sniffed under text/html and no Content-Type)', (file) => {
    const body = fixture(`responses/${file}`);
    const twin = expected(file.slice(0, -extname(file).length));
    expect(parseIntegrationStatus(body, 'text/html; charset=utf-8', OPTIONS)).toStrictEqual(twin);
    expect(parseIntegrationStatus(body, undefined, OPTIONS)).toStrictEqual(twin);
  });

  it('keeps longs beyond 2^53 exact (int64-ids.json)', () => {
    const status = parseJson(readFileSync(join(FIXTURES, 'responses/int64-ids.json')));
    expect(status.maxSyncDateMaxPkId).toBe('9007199254740993');
    expect(status.sourceId).toBe('9223372036854775807');
    expect(status.maxSyncDateTimeUtc).toBe('2026-01-31T23:59:59.9999999Z');
  });
});

describe('content type and charset', () => {
  it.each([
    'application/json',
    'text/json',
    'application/problem+json',
    'APPLICATION/JSON; Charset="UTF-8"',
    'text/html',
    'text/plain; charset=utf-8',
    'application/octet-stream',
  ])('reads JSON under %s', (contentType) => {
    expect(parseJson(SEED_JSON, contentType)).toStrictEqual(SEED_EXPECTED);
  });

  it.each(['application/xml', 'text/xml; charset=utf-8', 'application/vnd.gravitate+xml', 'text/html', 'text/plain'])(
    'reads XML under %s',
    (contentType) => {
      expect(parseXml(SEED_XML, contentType)).toStrictEqual(SEED_EXPECTED);
    },
  );

  it('parses the Content-Type header', () => {
    expect(parseContentType('Application/JSON ; charset = "UTF-16" ; q=1')).toStrictEqual({
      mediaType: 'application/json',
      charset: 'utf-16',
    });
    expect(parseContentType(undefined)).toStrictEqual({ mediaType: null, charset: null });
    expect(parseContentType('garbage')).toStrictEqual({ mediaType: null, charset: null });
  });

  it('reads a repeated Content-Type once and keeps each header its own reading', () => {
    const json = 'application/json; charset=utf-8';
    const first = parseContentType(json);
    expect(parseContentType(json)).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(parseContentType('text/xml; charset=utf-16')).toStrictEqual({ mediaType: 'text/xml', charset: 'utf-16' });
    expect(parseContentType(json)).toStrictEqual({ mediaType: 'application/json', charset: 'utf-8' });
    expect(parseContentType(null)).toStrictEqual({ mediaType: null, charset: null });
  });

  it('strips a UTF-8 BOM from bytes and from a string', () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(SEED_JSON, 'utf8')]);
    expect(parseJson(bytes)).toStrictEqual(SEED_EXPECTED);
    expect(parseJson(`\uFEFF${SEED_JSON}`)).toStrictEqual(SEED_EXPECTED);
    expect(parseXml(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(SEED_XML, 'utf8')]))).toStrictEqual(
      SEED_EXPECTED,
    );
  });

  it('decodes UTF-16 when declared (little-endian without BOM, either order with one)', () => {
    expect(parseJson(Buffer.from(SEED_JSON, 'utf16le'), 'application/json; charset=utf-16')).toStrictEqual(
      SEED_EXPECTED,
    );
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(SEED_XML, 'utf16le')]);
    expect(parseXml(le, 'application/xml; charset=utf-16')).toStrictEqual(SEED_EXPECTED);
    const be = Buffer.from(SEED_XML, 'utf16le').swap16();
    expect(parseXml(Buffer.concat([Buffer.from([0xfe, 0xff]), be]), 'text/xml; charset=UTF-16')).toStrictEqual(
      SEED_EXPECTED,
    );
    expect(parseXml(be, 'text/xml; charset=utf-16be')).toStrictEqual(SEED_EXPECTED);
    // A BOM alone decides when no charset is declared.
    expect(parseXml(le, 'text/xml')).toStrictEqual(SEED_EXPECTED);
  });

  it('keeps non-ASCII text exact in UTF-8', () => {
    const status = parseJson(Buffer.from(seedJsonWith({ IntegrationName: '"Órdenes 🚚 Zürich"' }), 'utf8'));
    expect(status.integrationName).toBe('Órdenes 🚚 Zürich');
  });

  it('rejects unknown charsets, invalid bytes and a BOM contradicting the charset', () => {
    expect(unreadable(() => parseJson(Buffer.from(SEED_JSON), 'application/json; charset=iso-8859-1')).message).toMatch(
      /unsupported charset "iso-8859-1"/,
    );
    expect(
      unreadable(() => parseJson(Buffer.from(SEED_JSON), 'application/json; charset=x-evil\u0007')).message,
    ).not.toContain('\u0007');
    const invalidUtf8 = Buffer.from(seedJsonWith({ IntegrationName: '"XX"' }), 'utf8');
    invalidUtf8[invalidUtf8.indexOf('XX')] = 0xff;
    expect(unreadable(() => parseJson(invalidUtf8)).message).toMatch(/not valid utf-8/);
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(SEED_JSON, 'utf16le')]);
    expect(unreadable(() => parseJson(le, 'application/json; charset=utf-8')).message).toMatch(/byte-order mark/);
    expect(
      unreadable(() => parseJson(Buffer.from(SEED_JSON, 'utf16le').subarray(1), 'application/json; charset=utf-16le'))
        .code,
    ).toBe('body_unreadable');
    const nonAscii = Buffer.from(seedJsonWith({ IntegrationName: '"é"' }), 'utf8');
    expect(unreadable(() => parseJson(nonAscii, 'application/json; charset=us-ascii')).message).toMatch(/us-ascii/);
    expect(parseJson(Buffer.from(SEED_JSON), 'application/json; charset=us-ascii')).toStrictEqual(SEED_EXPECTED);
  });
});

describe('JSON members', () => {
  it('matches member names case-insensitively (camelCase, MaxSyncDateMaxPkId, lower case)', () => {
    const camel = SEED_JSON.replace(
      /"([A-Z])([A-Za-z]*)":/g,
      (_m, first: string, rest: string) => `"${first.toLowerCase()}${rest}":`,
    );
    expect(camel).toContain('"maxSyncDateMaxPKId":');
    expect(parseJson(camel)).toStrictEqual(SEED_EXPECTED);
    expect(parseJson(camel.replace('"maxSyncDateMaxPKId":', '"MaxSyncDateMaxPkId":'))).toStrictEqual(SEED_EXPECTED);
    expect(
      parseJson(SEED_JSON.replace(/"([A-Za-z]+)":/g, (_m, name: string) => `"${name.toLowerCase()}":`)),
    ).toStrictEqual(SEED_EXPECTED);
  });

  it('ignores unknown members, whatever their type', () => {
    const body = seedJsonWith({ $id: '"1"', Extra: '{"a":[1,2,{"b":null}]}', Big: '1e999', IntegrationNameX: '5' });
    expect(parseJson(body)).toStrictEqual(SEED_EXPECTED);
  });

  it('does not match look-alike non-ASCII names (Kelvin sign, dotless i)', () => {
    const error = notDto(() => parseJson(seedJsonWith({ SourceId: undefined, ['Sourceİd']: '1' })));
    expect(error.message).toMatch(/lacks the JSON member SourceId/);
  });

  it('refuses two members that are the same field (differing case)', () => {
    const body = `${SEED_JSON.slice(0, -1)},"integrationName":"other"}`;
    const error = notDto(() => parseJson(body));
    expect(error.field).toBe('IntegrationName');
    expect(error.message).toBe(
      'upstream JSON has both "IntegrationName" and "integrationName", which are the same field IntegrationName',
    );
  });

  it('refuses an exact duplicate member with a different value, tolerates one with the same value', () => {
    const twice = `${SEED_JSON.slice(0, -1)},"SourceId":2}`;
    expect(notDto(() => parseJson(twice)).message).toMatch(/member "SourceId" twice/);
    const same = `${SEED_JSON.slice(0, -1)},"SourceId":1}`;
    expect(parseJson(same)).toStrictEqual(SEED_EXPECTED);
    const inDictionary = seedJsonWith({ CustomDatabaseValues: '{"a":"1","a":"2"}' });
    expect(notDto(() => parseJson(inDictionary)).message).toMatch(/member "a" twice/);
  });

  it('requires every member, naming the missing ones', () => {
    const error = notDto(() => parseJson(seedJsonWith({ MaxSyncDateTime: undefined, SourceId: undefined })));
    expect(error.message).toBe(
      'upstream IntegrationStatusDTO lacks the JSON members MaxSyncDateTime, SourceId (every member must be present, null if empty)',
    );
    expect(notDto(() => parseJson('{}')).message).toMatch(/lacks the JSON members IntegrationName, SourceSystemId, /);
  });

  it('turns null into null for every member', () => {
    const allNull = seedJsonWith(
      Object.fromEntries(
        [
          'IntegrationName',
          'SourceSystemId',
          'LastRunStartDateTime',
          'LastRunEndDateTime',
          'ProcessStatusMeaning',
          'MaxSyncDateTime',
          'MaxSyncDateMaxPKId',
          'SourceId',
          'SourceIdString',
          'CustomDatabaseValues',
        ].map((name) => [name, 'null']),
      ),
    );
    expect(parseJson(allNull)).toStrictEqual({
      integrationName: null,
      sourceSystemId: null,
      lastRunStartDateTime: null,
      lastRunEndDateTime: null,
      processStatusMeaning: null,
      maxSyncDateTime: null,
      maxSyncDateTimeUtc: null,
      maxSyncDateMaxPkId: null,
      sourceId: null,
      sourceIdString: null,
      customDatabaseValues: null,
    });
  });

  it('keeps strings exactly: whitespace, escapes, empty, leading zeros', () => {
    const status = parseJson(
      seedJsonWith({
        IntegrationName: '" Orders\\t\\n\\u0000\\"x\\" "',
        SourceIdString: '"00123"',
        ProcessStatusMeaning: '""',
      }),
    );
    expect(status.integrationName).toBe(' Orders\t\n\u0000"x" ');
    expect(status.sourceIdString).toBe('00123');
    expect(status.processStatusMeaning).toBe('');
  });

  it.each([
    ['IntegrationName', '5', 'IntegrationName must be a string or null, got the number 5'],
    ['ProcessStatusMeaning', 'true', 'ProcessStatusMeaning must be a string or null, got the boolean true'],
    ['SourceIdString', '123', 'SourceIdString must be a string or null, got the number 123'],
    ['IntegrationName', '["x"]', 'IntegrationName must be a string or null, got an array'],
    ['MaxSyncDateMaxPKId', '{}', 'MaxSyncDateMaxPKId must be an integer number (.NET long) or null, got an object'],
    ['MaxSyncDateTime', '1765376572810', 'MaxSyncDateTime must be a date string or null, got the number 1765376572810'],
    ['LastRunEndDateTime', 'false', 'LastRunEndDateTime must be a date string or null, got the boolean false'],
    [
      'CustomDatabaseValues',
      '"a=b"',
      'CustomDatabaseValues must be an object of string values, an array of {Key, Value}, or null, got a string',
    ],
  ])('refuses %s = %s, naming the field and the expected type', (name, value, message) => {
    const error = notDto(() => parseJson(seedJsonWith({ [name]: value })));
    expect(error.message).toBe(message);
    expect(error.field).toBe(name);
  });
});

describe('JSON integers', () => {
  it.each([
    ['9223372036854775807', '9223372036854775807'],
    ['-9223372036854775808', '-9223372036854775808'],
    ['9007199254740993', '9007199254740993'],
    ['-0', '0'],
    ['0', '0'],
    ['-1', '-1'],
  ])('accepts the long %s as %j', (literal, canonical) => {
    const status = parseJson(seedJsonWith({ MaxSyncDateMaxPKId: literal, SourceId: literal }));
    expect(status.maxSyncDateMaxPkId).toBe(canonical);
    expect(status.sourceId).toBe(canonical);
  });

  it.each([
    ['9223372036854775808', /outside the \.NET long \(int64\) range/],
    ['-9223372036854775809', /outside the \.NET long \(int64\) range/],
    ['99999999999999999999999999', /outside the \.NET long \(int64\) range/],
    ['10.5', /must be an integer \(\.NET long \(int64\)\), got "10\.5", which has a fraction/],
  ])('refuses the long %s', (literal, message) => {
    const error = notDto(() => parseJson(seedJsonWith({ SourceId: literal })));
    expect(error.field).toBe('SourceId');
    expect(error.message).toMatch(message);
    expect(error.message).toContain('SourceId');
  });

  it.each([
    ['2147483647', 2147483647],
    ['-2147483648', -2147483648],
    ['2.0', 2],
    ['2e0', 2],
    ['20E-1', 2],
    ['0.2e1', 2],
    ['-0', 0],
    ['0e99999999', 0],
  ])('accepts SourceSystemId %s (an integral JSON number)', (literal, value) => {
    const status = parseJson(seedJsonWith({ SourceSystemId: literal }));
    expect(Object.is(status.sourceSystemId, value)).toBe(true);
  });

  it.each([
    ['2147483648', /outside the \.NET int \(int32\) range/],
    ['-2147483649', /outside the \.NET int \(int32\) range/],
    ['1e10', /outside the \.NET int \(int32\) range/],
    ['1e400', /outside the \.NET int \(int32\) range/],
    ['2.5', /must be an integer/],
    ['1e-400', /must be an integer/],
    ['25e-1', /must be an integer/],
  ])('refuses SourceSystemId %s', (literal, message) => {
    const error = notDto(() => parseJson(seedJsonWith({ SourceSystemId: literal })));
    expect(error.field).toBe('SourceSystemId');
    expect(error.message).toMatch(message);
  });
});

describe('JSON dates', () => {
  it('keeps date text exactly and derives maxSyncDateTimeUtc from MaxSyncDateTime only', () => {
    const status = parseJson(
      seedJsonWith({
        LastRunStartDateTime: '"2026-03-08T02:30:00"',
        LastRunEndDateTime: '"\\/Date(1765376572810-0600)\\/"',
        MaxSyncDateTime: '"2025-11-02T01:30:00.1234567"',
      }),
    );
    expect(status.lastRunStartDateTime).toBe('2026-03-08T02:30:00');
    expect(status.lastRunEndDateTime).toBe('/Date(1765376572810-0600)/');
    expect(status.maxSyncDateTime).toBe('2025-11-02T01:30:00.1234567');
    expect(status.maxSyncDateTimeUtc).toBe('2025-11-02T06:30:00.1234567Z');
  });

  it.each(['MaxSyncDateTime', 'LastRunStartDateTime', 'LastRunEndDateTime'])('refuses bad date text in %s', (name) => {
    const error = notDto(() => parseJson(seedJsonWith({ [name]: '"2025-12-10T08:22:52.81008551-06:00"' })));
    expect(error.field).toBe(name);
    expect(error.message).toBe(
      `${name}: invalid date "2025-12-10T08:22:52.81008551-06:00": 8 fractional digits; .NET has at most 7 (100 ns ticks)`,
    );
  });

  it('refuses an empty date string', () => {
    expect(notDto(() => parseJson(seedJsonWith({ MaxSyncDateTime: '""' }))).field).toBe('MaxSyncDateTime');
  });
});

describe('JSON CustomDatabaseValues', () => {
  it('keeps null values as null and keys case-sensitive', () => {
    const status = parseJson(seedJsonWith({ CustomDatabaseValues: '{"a":null,"A":"x","":""}' }));
    expect(status.customDatabaseValues).toStrictEqual([
      ['a', null],
      ['A', 'x'],
      ['', ''],
    ]);
  });

  it('accepts an empty object as no entries', () => {
    expect(parseJson(seedJsonWith({ CustomDatabaseValues: '{}' })).customDatabaseValues).toStrictEqual([]);
    expect(parseJson(seedJsonWith({ CustomDatabaseValues: ' { \n } ' })).customDatabaseValues).toStrictEqual([]);
  });

  it('accepts the [{Key, Value}] form', () => {
    const status = parseJson(
      seedJsonWith({
        CustomDatabaseValues:
          '[{"Key":"sample string 1","Value":"sample string 2"},{"key":"sample string 3","value":"sample string 4"},{"Key":"n","Value":null}]',
      }),
    );
    expect(status.customDatabaseValues).toStrictEqual([
      ['sample string 1', 'sample string 2'],
      ['sample string 3', 'sample string 4'],
      ['n', null],
    ]);
    expect(parseJson(seedJsonWith({ CustomDatabaseValues: '[]' })).customDatabaseValues).toStrictEqual([]);
  });

  it.each([
    ['{"a":1}', 'CustomDatabaseValues["a"] must be a string or null, got the number 1'],
    ['{"a":{"b":"c"}}', 'CustomDatabaseValues["a"] must be a string or null, got an object'],
    ['{"a":["x"]}', 'CustomDatabaseValues["a"] must be a string or null, got an array'],
    ['{"b":"x","10":1}', 'CustomDatabaseValues["10"] must be a string or null, got the number 1'],
    ['[{"Key":"a","Value":"1"},{"Key":"a","Value":"2"}]', 'CustomDatabaseValues has the key "a" twice'],
    ['[{"Key":"a","Value":"1"},{"Key":"a","Value":"1"}]', 'CustomDatabaseValues has the key "a" twice'],
    ['[{"Key":null,"Value":"1"}]', 'CustomDatabaseValues[0].Key must be a string, got null'],
    ['[{"Key":"a"}]', 'CustomDatabaseValues[0] must have both Key and Value'],
    [
      '[{"Key":"a","Value":"1","Other":1}]',
      'CustomDatabaseValues[0] has unexpected member "Other"; expected only Key and Value',
    ],
    ['[{"Key":"a","Value":1}]', 'CustomDatabaseValues[0].Value must be a string or null, got the number 1'],
    ['["a"]', 'CustomDatabaseValues[0] must be an object {Key, Value}, got a string'],
  ])('refuses %s', (value, message) => {
    const error = notDto(() => parseJson(seedJsonWith({ CustomDatabaseValues: value })));
    expect(error.message).toBe(message);
    expect(error.field).toBe('CustomDatabaseValues');
  });

  it('keeps "__proto__" and "constructor" as ordinary keys', () => {
    const status = parseJson(seedJsonWith({ CustomDatabaseValues: '{"__proto__":"x","constructor":"y"}' }));
    expect(status.customDatabaseValues).toStrictEqual([
      ['__proto__', 'x'],
      ['constructor', 'y'],
    ]);
    const fromArray = parseJson(seedJsonWith({ CustomDatabaseValues: '[{"Key":"__proto__","Value":"x"}]' }));
    expect(fromArray.customDatabaseValues).toStrictEqual([['__proto__', 'x']]);
  });
});

describe('bodies that are not a DTO', () => {
  it.each([
    ['null', 'upstream body is JSON null, not an IntegrationStatusDTO object'],
    ['[]', 'upstream body is JSON an array, not an IntegrationStatusDTO object'],
    ['[{"IntegrationName":"x"}]', 'upstream body is JSON an array, not an IntegrationStatusDTO object'],
    ['42', 'upstream body is JSON the number 42, not an IntegrationStatusDTO object'],
    ['"x"', 'upstream body is JSON a string, not an IntegrationStatusDTO object'],
    ['true', 'upstream body is JSON the boolean true, not an IntegrationStatusDTO object'],
  ])('%s → not_a_dto', (body, message) => {
    expect(notDto(() => parseJson(body)).message).toBe(message);
    expect(notDto(() => parseJson(body, 'text/html; charset=utf-8')).message).toBe(message);
    expect(notDto(() => parseJson(body, undefined)).message).toBe(message);
  });

  it('an ASP.NET error object with status 200 is not a DTO', () => {
    const error = notDto(() => parseJson('{"Message":"An error has occurred."}'));
    expect(error.message).toMatch(/lacks the JSON members IntegrationName/);
  });

  it('refuses an empty or whitespace-only body as unreadable', () => {
    expect(unreadable(() => parseJson('')).message).toBe('upstream body is empty');
    expect(unreadable(() => parseJson(Buffer.alloc(0))).message).toBe('upstream body is empty');
    expect(unreadable(() => parseJson(' \r\n\t')).message).toBe('upstream body is only whitespace');
    expect(unreadable(() => parseXml('')).message).toBe('upstream body is empty');
  });

  it('refuses an HTML login page, whatever the Content-Type says', () => {
    const login =
      '<!DOCTYPE html>\r\n<html lang="en"><head><title>Sign in</title></head><body><form method="post"><input name="password"></form></body></html>';
    for (const contentType of [
      'text/html; charset=utf-8',
      undefined,
      'application/json',
      'application/xml',
      'text/plain',
    ]) {
      const error = unreadable(() => parseIntegrationStatus(login, contentType, OPTIONS));
      expect(error.message).toMatch(/is an HTML page \(e\.g\. a login or error page\), not an IntegrationStatusDTO/);
    }
    const noDoctype = '\n  <HTML><body>Please log in</body></HTML>';
    expect(unreadable(() => parseIntegrationStatus(noDoctype, 'text/html', OPTIONS)).message).toMatch(/HTML page/);
    const xhtml = '<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body/></html>';
    expect(unreadable(() => parseIntegrationStatus(xhtml, 'application/xhtml+xml', OPTIONS)).message).toMatch(
      /HTML page/,
    );
  });

  it('refuses other markup under text/html as an HTML or error page', () => {
    const error = unreadable(() =>
      parseIntegrationStatus('<Error><Message>An error has occurred.</Message></Error>', 'text/html', OPTIONS),
    );
    expect(error.message).toBe(
      'upstream body (text/html) is markup with root <Error>, not an IntegrationStatusDTO: an HTML page or other error page',
    );
  });

  it('refuses text that is neither JSON nor XML', () => {
    expect(unreadable(() => parseIntegrationStatus('Service Unavailable', 'text/plain', OPTIONS)).message).toBe(
      "upstream body (text/plain) is neither an IntegrationStatusDTO in XML nor valid JSON (JSON value expected but got 'S' at position 0); truncated or not JSON",
    );
    expect(unreadable(() => parseJson('Service Unavailable')).message).toBe(
      "upstream body (application/json) is not valid JSON (JSON value expected but got 'S' at position 0); truncated or not JSON",
    );
  });

  it('refuses every truncation of a JSON DTO as unreadable', () => {
    for (let length = 0; length < SEED_JSON.length; length++) {
      const error = thrown(() => parseJson(SEED_JSON.slice(0, length)));
      expect(error.code, `prefix of ${length} chars`).toBe('body_unreadable');
    }
  });

  it('refuses JSON with trailing garbage or comments', () => {
    unreadable(() => parseJson(`${SEED_JSON}x`));
    unreadable(() => parseJson(`${SEED_JSON}${SEED_JSON}`));
    unreadable(() => parseJson(`// c\n${SEED_JSON}`));
    unreadable(() => parseJson(SEED_JSON.replace('"SourceSystemId":2', '"SourceSystemId":02')));
    unreadable(() => parseJson(SEED_JSON.replace('"SourceSystemId":2', '"SourceSystemId":NaN')));
  });

  it('refuses absurdly deep JSON nesting as unreadable instead of overflowing', () => {
    const deep = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
    expect(unreadable(() => parseJson(deep)).message).toBe(
      'upstream body (application/json) is JSON nested too deeply to read',
    );
  });
});

describe('XML', () => {
  it('reads xsi:nil as null and is order-independent (first-run-nil.xml)', () => {
    expect(parseXml(fixture('responses/first-run-nil.xml'))).toStrictEqual(expected('first-run-nil'));
  });

  it('accepts other prefixes for every namespace and any element order', () => {
    const xml =
      '<?xml version="1.0" encoding="utf-8"?>\n' +
      '<!-- produced by a hand-rolled writer -->\n' +
      '<dto:IntegrationStatusDTO xmlns:dto="http://schemas.datacontract.org/2004/07/Gravitate.WCF.DTO.Integration" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n' +
      '  <dto:SourceSystemId>2</dto:SourceSystemId>\n' +
      '  <dto:SourceIdString>sample string 4</dto:SourceIdString>\n' +
      '  <dto:ProcessStatusMeaning>sample string 3</dto:ProcessStatusMeaning>\n' +
      '  <dto:MaxSyncDateTime>2025-12-10T08:22:52.8100855-06:00</dto:MaxSyncDateTime>\n' +
      '  <dto:CustomDatabaseValues xmlns:arr="http://schemas.microsoft.com/2003/10/Serialization/Arrays">\n' +
      '    <arr:KeyValueOfstringstring><arr:Value>sample string 2</arr:Value><arr:Key>sample string 1</arr:Key></arr:KeyValueOfstringstring>\n' +
      '    <KeyValueOfstringstring xmlns="http://schemas.microsoft.com/2003/10/Serialization/Arrays"><Key>sample string 3</Key><Value>sample string 4</Value></KeyValueOfstringstring>\n' +
      '  </dto:CustomDatabaseValues>\n' +
      '  <dto:MaxSyncDateMaxPKId>1</dto:MaxSyncDateMaxPKId>\n' +
      '  <dto:LastRunStartDateTime>2025-12-10T08:22:52.8100855-06:00</dto:LastRunStartDateTime>\n' +
      '  <dto:SourceId>1</dto:SourceId>\n' +
      '  <dto:LastRunEndDateTime>2025-12-10T08:22:52.8100855-06:00</dto:LastRunEndDateTime>\n' +
      '  <dto:IntegrationName>sample string 1</dto:IntegrationName>\n' +
      '</dto:IntegrationStatusDTO>\n';
    expect(parseXml(xml)).toStrictEqual(SEED_EXPECTED);
    const nil = xml.replace('<dto:SourceId>1</dto:SourceId>', '<dto:SourceId xsi:nil="true"/>');
    expect(parseXml(nil).sourceId).toBeNull();
  });

  it('reads every element shuffled (reverse order of the seed)', () => {
    const root = parseXmlDocument(SEED_XML);
    const reversed =
      '<IntegrationStatusDTO xmlns:i="http://www.w3.org/2001/XMLSchema-instance" xmlns="http://schemas.datacontract.org/2004/07/Gravitate.WCF.DTO.Integration">' +
      seedXmlChildren().reverse().join('') +
      '</IntegrationStatusDTO>';
    expect(root.localName).toBe('IntegrationStatusDTO');
    expect(parseXml(reversed)).toStrictEqual(SEED_EXPECTED);
  });

  it('keeps text exactly: leading zeros, whitespace, references, CDATA, CR via &#xD;', () => {
    const status = parseXml(
      seedXmlWith({
        SourceIdString: '<SourceIdString>00123</SourceIdString>',
        IntegrationName: '<IntegrationName> A&amp;B &lt;c&gt; &quot;&apos; &#xD;&#10;&#65;&#x1F69A; </IntegrationName>',
        ProcessStatusMeaning: '<ProcessStatusMeaning>x<![CDATA[ &amp; <y> ]]>z<!-- c -->w</ProcessStatusMeaning>',
      }),
    );
    expect(status.sourceIdString).toBe('00123');
    expect(status.integrationName).toBe(' A&B <c> "\' \r\nA🚚 ');
    expect(status.processStatusMeaning).toBe('x &amp; <y> zw');
  });

  it('normalizes literal line breaks as XML requires (CR LF → LF)', () => {
    const status = parseXml(
      seedXmlWith({ ProcessStatusMeaning: '<ProcessStatusMeaning>a\r\nb\rc</ProcessStatusMeaning>' }),
    );
    expect(status.processStatusMeaning).toBe('a\nb\nc');
  });

  it('gives "" for an empty string element and null for xsi:nil', () => {
    const status = parseXml(
      seedXmlWith({
        SourceIdString: '<SourceIdString/>',
        ProcessStatusMeaning: '<ProcessStatusMeaning></ProcessStatusMeaning>',
        IntegrationName: '<IntegrationName i:nil="true"/>',
        CustomDatabaseValues: '<CustomDatabaseValues/>',
      }),
    );
    expect(status.sourceIdString).toBe('');
    expect(status.processStatusMeaning).toBe('');
    expect(status.integrationName).toBeNull();
    expect(status.customDatabaseValues).toStrictEqual([]);
  });

  it('keeps a nil dictionary Value as null', () => {
    const status = parseXml(
      seedXmlWith({
        CustomDatabaseValues:
          '<CustomDatabaseValues xmlns:a="http://schemas.microsoft.com/2003/10/Serialization/Arrays"><a:KeyValueOfstringstring><a:Key>k</a:Key><a:Value i:nil="true"/></a:KeyValueOfstringstring></CustomDatabaseValues>',
      }),
    );
    expect(status.customDatabaseValues).toStrictEqual([['k', null]]);
  });

  it.each([
    [
      'SourceSystemId',
      '<SourceSystemId/>',
      'SourceSystemId must be an integer (.NET int) or xsi:nil, got an empty element',
    ],
    ['SourceId', '<SourceId></SourceId>', 'SourceId must be an integer (.NET long) or xsi:nil, got an empty element'],
    ['MaxSyncDateTime', '<MaxSyncDateTime/>', 'MaxSyncDateTime must be a date or xsi:nil, got an empty element'],
    ['SourceId', '<SourceId>1.0</SourceId>', /must be an integer literal/],
    ['SourceId', '<SourceId>9223372036854775808</SourceId>', /outside the \.NET long \(int64\) range/],
    ['SourceSystemId', '<SourceSystemId>2147483648</SourceSystemId>', /outside the \.NET int \(int32\) range/],
    ['SourceSystemId', '<SourceSystemId>2e0</SourceSystemId>', /must be an integer literal/],
    [
      'MaxSyncDateTime',
      '<MaxSyncDateTime>2025-13-10T08:22:52Z</MaxSyncDateTime>',
      /MaxSyncDateTime: invalid date .*month 13/,
    ],
    [
      'IntegrationName',
      '<IntegrationName><b>x</b></IntegrationName>',
      'IntegrationName must contain only text, found the element <b>',
    ],
    ['SourceId', '<SourceId i:nil="true">1</SourceId>', 'SourceId is xsi:nil="true" but has content'],
    ['SourceId', '<SourceId i:nil="maybe"/>', 'SourceId has xsi:nil="maybe", expected true or false'],
    [
      'SourceIdString',
      '<SourceIdString nil="true"/>',
      /nil attribute nil that is not in the XML Schema instance namespace/,
    ],
  ])('refuses %s written as %s', (name, element, message) => {
    const error = notDto(() => parseXml(seedXmlWith({ [name]: element })));
    if (typeof message === 'string') expect(error.message).toBe(message);
    else expect(error.message).toMatch(message);
  });

  it('accepts xsi:nil="false" as not nil', () => {
    expect(parseXml(seedXmlWith({ SourceId: '<SourceId i:nil="false">7</SourceId>' })).sourceId).toBe('7');
  });

  it('int64 edges in XML', () => {
    const status = parseXml(
      seedXmlWith({
        SourceId: '<SourceId>-9223372036854775808</SourceId>',
        MaxSyncDateMaxPKId: '<MaxSyncDateMaxPKId>9223372036854775807</MaxSyncDateMaxPKId>',
      }),
    );
    expect(status.sourceId).toBe('-9223372036854775808');
    expect(status.maxSyncDateMaxPkId).toBe('9223372036854775807');
  });

  it('refuses a duplicated or missing element', () => {
    const twice = notDto(() => parseXml(seedXmlWith({ SourceId: '<SourceId>1</SourceId><SourceId>2</SourceId>' })));
    expect(twice.message).toBe('upstream XML has the element SourceId more than once');
    const missing = notDto(() => parseXml(seedXmlWith({ MaxSyncDateTime: undefined })));
    expect(missing.message).toBe(
      'upstream IntegrationStatusDTO lacks the XML element MaxSyncDateTime (every member must be present, null if empty)',
    );
  });

  it('ignores unknown elements and attributes', () => {
    const xml = seedXmlWith({
      Extra: '<Extra a="1"><Nested>x</Nested></Extra>',
      SourceId: '<SourceId xmlns:z="urn:z" z:note="n">1</SourceId>',
    });
    expect(parseXml(xml)).toStrictEqual(SEED_EXPECTED);
  });

  it('refuses a wrong root element as not a DTO', () => {
    const error = notDto(() =>
      parseXml('<IntegrationStartRequest><IntegrationName>x</IntegrationName></IntegrationStartRequest>'),
    );
    expect(error.message).toBe('upstream XML root element is <IntegrationStartRequest>, expected IntegrationStatusDTO');
    expect(notDto(() => parseXml('<a:Error xmlns:a="urn:x"/>')).message).toMatch(/root element is <a:Error>/);
    expect(
      notDto(() => parseXml('<IntegrationStatusDTO xmlns:i="http://www.w3.org/2001/XMLSchema-instance" i:nil="true"/>'))
        .message,
    ).toMatch(/is xsi:nil/);
  });

  it.each([
    [
      'KeyValueOfstringstring with a nil Key',
      '<CustomDatabaseValues><KeyValueOfstringstring><Key i:nil="true"/><Value>v</Value></KeyValueOfstringstring></CustomDatabaseValues>',
      /Key is xsi:nil/,
    ],
    [
      'a repeated key',
      '<CustomDatabaseValues><KeyValueOfstringstring><Key>k</Key><Value>1</Value></KeyValueOfstringstring><KeyValueOfstringstring><Key>k</Key><Value>2</Value></KeyValueOfstringstring></CustomDatabaseValues>',
      /has the key "k" twice/,
    ],
    [
      'a missing Value',
      '<CustomDatabaseValues><KeyValueOfstringstring><Key>k</Key></KeyValueOfstringstring></CustomDatabaseValues>',
      /must have both Key and Value/,
    ],
    [
      'another item element',
      '<CustomDatabaseValues><Item>k</Item></CustomDatabaseValues>',
      /contains <Item>; expected KeyValueOfstringstring/,
    ],
    ['text', '<CustomDatabaseValues>k=v</CustomDatabaseValues>', /has text directly inside it/],
  ])('refuses CustomDatabaseValues with %s', (_what, element, message) => {
    const error = notDto(() => parseXml(seedXmlWith({ CustomDatabaseValues: element })));
    expect(error.message).toMatch(message);
    expect(error.field).toBe('CustomDatabaseValues');
  });

  it('refuses every truncation of an XML DTO as unreadable', () => {
    const complete = SEED_XML.trimEnd();
    for (let length = 0; length < complete.length; length++) {
      const error = thrown(() => parseXml(complete.slice(0, length)));
      expect(error.code, `prefix of ${length} chars`).toBe('body_unreadable');
    }
  });

  it.each([
    ['mismatched tags', '<IntegrationStatusDTO><SourceId>1</SourceID></IntegrationStatusDTO>'],
    ['two roots', `${seedXmlWith({})}<IntegrationStatusDTO/>`],
    ['text after the root', `${seedXmlWith({})}trailing`],
    ['an undeclared entity', seedXmlWith({ IntegrationName: '<IntegrationName>&nbsp;</IntegrationName>' })],
    ['a bare ampersand', seedXmlWith({ IntegrationName: '<IntegrationName>a & b</IntegrationName>' })],
    ['a NUL character reference', seedXmlWith({ IntegrationName: '<IntegrationName>&#0;</IntegrationName>' })],
    ['a raw control character', seedXmlWith({ IntegrationName: '<IntegrationName>\u0001</IntegrationName>' })],
    ['an undeclared prefix', seedXmlWith({ SourceId: '<q:SourceId>1</q:SourceId>' })],
    ['"<" in an attribute', seedXmlWith({ SourceId: '<SourceId a="<">1</SourceId>' })],
    ['"]]>" in text', seedXmlWith({ IntegrationName: '<IntegrationName>a]]>b</IntegrationName>' })],
    ['a __proto__ element', seedXmlWith({ Extra: '<__proto__><x>1</x></__proto__>' })],
    ['a JSON body declared as XML', SEED_JSON],
  ])('refuses XML with %s as unreadable', (_what, xml) => {
    unreadable(() => parseXml(xml));
  });

  it('refuses DOCTYPE and ENTITY declarations before parsing (billion laughs)', () => {
    const bomb =
      '<?xml version="1.0"?>\n<!DOCTYPE IntegrationStatusDTO [\n <!ENTITY lol "lol">\n' +
      Array.from({ length: 9 }, (_, i) => ` <!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`).join(
        '\n',
      ) +
      '\n]>\n' +
      seedXmlWith({ IntegrationName: '<IntegrationName>&lol9;</IntegrationName>' });
    for (const contentType of [XML_TYPE, 'text/html', undefined]) {
      const error = unreadable(() => parseIntegrationStatus(bomb, contentType, OPTIONS));
      expect(error.message).toMatch(/contains a DOCTYPE declaration at offset 22; DTDs are refused/);
    }
    const entityOnly = seedXmlWith({ Extra: '<Extra><!ENTITY x "y"></Extra>' });
    expect(unreadable(() => parseXml(entityOnly)).message).toMatch(/ENTITY declaration/);
    const lowerCase = `<!doctype IntegrationStatusDTO>${seedXmlWith({})}`;
    expect(unreadable(() => parseXml(lowerCase)).message).toMatch(/DOCTYPE declaration at offset 0/);
  });

  it('refuses a DOCTYPE in a large document quickly, without expanding anything', () => {
    const big = `<!DOCTYPE x [<!ENTITY a "${'a'.repeat(1_000_000)}">]>${seedXmlWith({})}`;
    const started = performance.now();
    unreadable(() => parseXml(big));
    expect(performance.now() - started).toBeLessThan(500);
  });
});

function seedXmlChildren(): string[] {
  const root = parseXmlDocument(SEED_XML);
  expect(root.children.filter((c) => c.kind === 'element')).toHaveLength(10);
  // Rebuild each child from the seed's own text so nothing in the expectation is invented here.
  const body = SEED_XML.slice(SEED_XML.indexOf('>') + 1, SEED_XML.lastIndexOf('</IntegrationStatusDTO>'));
  const parts = body
    .replace(/\n/g, '')
    .split(
      /(?=<(?:CustomDatabaseValues|SourceId>|SourceIdString|IntegrationName|LastRunEndDateTime|LastRunStartDateTime|MaxSyncDateMaxPKId|MaxSyncDateTime>|ProcessStatusMeaning|SourceSystemId))/,
    );
  expect(parts).toHaveLength(10);
  return parts;
}

describe('assertSameIntegration', () => {
  const status = SEED_EXPECTED; // SourceSystemId 2, "sample string 1"

  it('passes for the same id and name, ignoring letter case, width and trailing spaces', () => {
    expect(() =>
      assertSameIntegration(status, { sourceSystemId: 2, integrationName: 'sample string 1' }),
    ).not.toThrow();
    expect(() =>
      assertSameIntegration(status, { sourceSystemId: 2, integrationName: 'SAMPLE String 1' }),
    ).not.toThrow();
    expect(() =>
      assertSameIntegration(status, { sourceSystemId: 2, integrationName: 'sample string 1  ' }),
    ).not.toThrow();
    expect(() =>
      assertSameIntegration(status, { sourceSystemId: 2, integrationName: 'ｓａｍｐｌｅ string 1' }),
    ).not.toThrow();
    expect(sameIntegrationName('Órdenes', 'óRDENES')).toBe(true);
    expect(sameIntegrationName('e\u0301', 'é')).toBe(true);
  });

  it('fails on an accent difference (accent-sensitive)', () => {
    const error = thrown(() =>
      assertSameIntegration(
        { ...status, integrationName: 'Ordenes' },
        { sourceSystemId: 2, integrationName: 'Órdenes' },
      ),
    );
    expect(error).toBeInstanceOf(UpstreamIdentityMismatchError);
    expect(error.code).toBe('identity_mismatch');
    expect(error.message).toBe(
      'upstream answered for SourceSystemId=2 IntegrationName="Ordenes" but was asked for SourceSystemId=2 IntegrationName="Órdenes"',
    );
    expect(sameIntegrationName('resume', 'résumé')).toBe(false);
    expect(sameIntegrationName(' Orders', 'Orders')).toBe(false);
  });

  it('fails on another SourceSystemId', () => {
    const error = thrown(() =>
      assertSameIntegration(status, { sourceSystemId: 3, integrationName: 'sample string 1' }),
    ) as UpstreamIdentityMismatchError;
    expect(error).toBeInstanceOf(UpstreamIdentityMismatchError);
    expect(error.expected).toStrictEqual({ sourceSystemId: 3, integrationName: 'sample string 1' });
    expect(error.received).toStrictEqual({ sourceSystemId: 2, integrationName: 'sample string 1' });
  });

  it('treats a null IntegrationName or SourceSystemId as a mismatch', () => {
    const noName = thrown(() =>
      assertSameIntegration(
        { ...status, integrationName: null },
        { sourceSystemId: 2, integrationName: 'sample string 1' },
      ),
    );
    expect(noName.message).toBe(
      'upstream answered for SourceSystemId=2 IntegrationName=null but was asked for SourceSystemId=2 IntegrationName="sample string 1"',
    );
    const noId = thrown(() =>
      assertSameIntegration(
        { ...status, sourceSystemId: null },
        { sourceSystemId: 2, integrationName: 'sample string 1' },
      ),
    );
    expect(noId).toBeInstanceOf(UpstreamIdentityMismatchError);
  });
});

describe('ASP.NET error bodies and excerpts', () => {
  it('reads Message, MessageDetail, ExceptionMessage and ExceptionType from JSON and XML', () => {
    const json =
      '{"Message":"An error has occurred.","ExceptionMessage":"Timeout expired.","ExceptionType":"System.Data.SqlClient.SqlException","StackTrace":"   at X()","InnerException":{"Message":"inner"}}';
    expect(parseAspNetError(Buffer.from(json), 'application/json; charset=utf-8')).toStrictEqual({
      message: 'An error has occurred.',
      exceptionMessage: 'Timeout expired.',
      exceptionType: 'System.Data.SqlClient.SqlException',
    });
    const xml =
      '<Error><Message>No HTTP resource was found that matches the request URI.</Message><MessageDetail>No action was found.</MessageDetail></Error>';
    expect(parseAspNetError(xml, 'application/xml')).toStrictEqual({
      message: 'No HTTP resource was found that matches the request URI.',
      messageDetail: 'No action was found.',
    });
    expect(parseAspNetError('<html><body>502</body></html>', 'text/html')).toBeNull();
    expect(parseAspNetError('{"error":"x"}', 'application/json')).toBeNull();
    expect(parseAspNetError('', undefined)).toBeNull();
    expect(parseAspNetError('{"Message":', 'application/json')).toBeNull();
  });

  it('makes a short single-line excerpt without control characters', () => {
    expect(bodyExcerpt(Buffer.from('  <h1>Bad\r\nGateway</h1>\u0000\u001b[31m  '))).toBe('<h1>Bad Gateway</h1> [31m');
    const long = bodyExcerpt('x'.repeat(1000));
    expect(long).toBe(`${'x'.repeat(200)}…`);
    expect(Array.from(bodyExcerpt('🚚'.repeat(300)))).toHaveLength(201);
    expect(bodyExcerpt(Buffer.from([0xff, 0x41]))).toBe('\uFFFDA');
  });
});

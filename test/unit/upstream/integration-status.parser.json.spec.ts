import { describe, expect, it } from 'vitest';
import { SEED_EXPECTED, SEED_JSON, notDto, parseJson, seedJsonWith } from './support/status-bodies';

// The JSON body: its members, integers, dates and CustomDatabaseValues.

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

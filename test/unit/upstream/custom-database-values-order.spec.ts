/**
 * `CustomDatabaseValues` keeps the upstream's order: a JSON object's members as the text writes them, the
 * `[{Key, Value}]` items and DataContract `KeyValueOfstringstring` items as listed. The keys are chosen so that any
 * other order shows: integer-like keys ("10", "2"), which a JS object lists first, ascending, and keys that jsonb
 * would sort differently ("bb" before "a").
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CustomDatabaseValues } from '../../../src/upstream/integration-status';
import { parseIntegrationStatus } from '../../../src/upstream/integration-status.parser';
import { memberNamesInOrder } from '../../../src/upstream/parser/json-member-order';

const ARRAYS = 'http://schemas.microsoft.com/2003/10/Serialization/Arrays';
const OPTIONS = { defaultTimeZone: 'UTC' };

/** The other members of a DTO, JSON, with values that hold braces, brackets, quotes and a nested look-alike. */
const OTHER_JSON_MEMBERS =
  '"IntegrationName":"Orders {\\"CustomDatabaseValues\\":[\\"x\\"]}","SourceSystemId":1,' +
  '"LastRunStartDateTime":null,"LastRunEndDateTime":null,"ProcessStatusMeaning":"a } ] , : \\\\",' +
  '"MaxSyncDateTime":"2025-12-10T08:22:52.8100855-06:00","MaxSyncDateMaxPKId":1,"SourceId":-12.5e1,' +
  '"SourceIdString":"s","Unknown":{"CustomDatabaseValues":{"z":"1"},"list":[[1,{"a":"}"}],true,false,null]}';

function jsonWith(dictionary: string, first = false): string {
  return first
    ? `{"CustomDatabaseValues":${dictionary},${OTHER_JSON_MEMBERS}}`
    : `{${OTHER_JSON_MEMBERS},"CustomDatabaseValues":${dictionary}}`;
}

function parseJson(body: string): CustomDatabaseValues | null {
  return parseIntegrationStatus(body, 'application/json; charset=utf-8', OPTIONS).customDatabaseValues;
}

function xmlText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A DataContractSerializer body whose dictionary holds `entries`, as `KeyValueOfstringstring` items in that order. */
function xmlWith(entries: CustomDatabaseValues): string {
  const items = entries
    .map(
      ([key, value]) =>
        `<a:KeyValueOfstringstring><a:Key>${xmlText(key)}</a:Key>` +
        (value === null ? '<a:Value i:nil="true"/>' : `<a:Value>${xmlText(value)}</a:Value>`) +
        '</a:KeyValueOfstringstring>',
    )
    .join('');
  return (
    '<IntegrationStatusDTO xmlns:i="http://www.w3.org/2001/XMLSchema-instance" xmlns="http://schemas.datacontract.org/2004/07/Gravitate.WCF.DTO.Integration">' +
    `<CustomDatabaseValues xmlns:a="${ARRAYS}">${items}</CustomDatabaseValues>` +
    '<IntegrationName>Orders</IntegrationName><LastRunEndDateTime i:nil="true"/><LastRunStartDateTime i:nil="true"/>' +
    '<MaxSyncDateMaxPKId>1</MaxSyncDateMaxPKId><MaxSyncDateTime>2025-12-10T08:22:52.8100855-06:00</MaxSyncDateTime>' +
    '<ProcessStatusMeaning>Complete</ProcessStatusMeaning><SourceId>1</SourceId><SourceIdString>s</SourceIdString>' +
    '<SourceSystemId>1</SourceSystemId></IntegrationStatusDTO>'
  );
}

function parseXml(body: string): CustomDatabaseValues | null {
  return parseIntegrationStatus(body, 'application/xml; charset=utf-8', OPTIONS).customDatabaseValues;
}

const objectText = (entries: CustomDatabaseValues) =>
  `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`).join(',')}}`;
const arrayText = (entries: CustomDatabaseValues) =>
  JSON.stringify(entries.map(([key, value]) => ({ Key: key, Value: value })));

const MIXED: CustomDatabaseValues = [
  ['10', 'ten'],
  ['2', 'two'],
  ['b', null],
  ['a', ''],
];
const JSONB_SORTS_OTHERWISE: CustomDatabaseValues = [
  ['bb', '1'],
  ['a', '2'],
  ['B', '3'],
];
const EVERY_KIND: CustomDatabaseValues = [
  ['b', 'x'],
  ['4294967295', 'not an array index'],
  ['4294967294', 'the largest array index'],
  ['01', 'leading zero'],
  ['1', 'one'],
  ['0', 'zero'],
  ['-1', 'minus one'],
  ['', 'empty key'],
  ['__proto__', 'p'],
  ['é', 'ü "q" \\ \n\t\u2028 🚚'],
];

describe('CustomDatabaseValues keeps the upstream order', () => {
  it.each([
    ['integer-like keys', MIXED],
    ['keys jsonb would sort otherwise', JSONB_SORTS_OTHERWISE],
    ['every kind of key', EVERY_KIND],
  ])('%s: a JSON object, wherever the member is', (_what, entries) => {
    expect(parseJson(jsonWith(objectText(entries)))).toStrictEqual(entries);
    expect(parseJson(jsonWith(objectText(entries), true))).toStrictEqual(entries);
  });

  it.each([
    ['integer-like keys', MIXED],
    ['keys jsonb would sort otherwise', JSONB_SORTS_OTHERWISE],
    ['every kind of key', EVERY_KIND],
  ])('%s: the [{Key, Value}] form', (_what, entries) => {
    expect(parseJson(jsonWith(arrayText(entries)))).toStrictEqual(entries);
  });

  it.each([
    ['integer-like keys', MIXED],
    ['keys jsonb would sort otherwise', JSONB_SORTS_OTHERWISE],
    ['every kind of key', EVERY_KIND.filter(([, value]) => !value?.includes('\u2028'))],
  ])('%s: DataContract KeyValueOfstringstring items', (_what, entries) => {
    expect(parseXml(xmlWith(entries))).toStrictEqual(entries);
  });

  it('reads escaped names, and whitespace between every token', () => {
    const body =
      ' \r\n{ "SourceSystemId" : 1 ,\t"CustomDatabaseValues"\n:\n{ "b" : "1" , "\\u0031\\u0030" : "ten" ,' +
      ' "\\"q\\"" : null , "\\\\" : "" , "\\u0032" : "two" }\n,' +
      OTHER_JSON_MEMBERS.replace('"SourceSystemId":1,', '') +
      ' } \n';
    expect(parseJson(body)).toStrictEqual([
      ['b', '1'],
      ['10', 'ten'],
      ['"q"', null],
      ['\\', ''],
      ['2', 'two'],
    ]);
  });

  it('keeps the first place of a key repeated with the same value, as the .NET Dictionary indexer does', () => {
    // Json.NET sets each member with dictionary[key] = value: a repeat replaces the value where the key already is.
    expect(parseJson(jsonWith('{"b":"1","10":"x","a":"2","10":"x","b":"1"}'))).toStrictEqual([
      ['b', '1'],
      ['10', 'x'],
      ['a', '2'],
    ]);
  });

  it('refuses a key repeated with another value, in every form', () => {
    // Json.NET would keep the last value; no .NET serializer writes a dictionary that way, so it is refused.
    expect(() => parseJson(jsonWith('{"10":"x","b":"1","10":"y"}'))).toThrow(/member "10" twice/);
    expect(() => parseJson(jsonWith('[{"Key":"10","Value":"x"},{"Key":"10","Value":"x"}]'))).toThrow(
      'CustomDatabaseValues has the key "10" twice',
    );
    expect(() =>
      parseXml(
        xmlWith([
          ['10', 'x'],
          ['10', 'x'],
        ]),
      ),
    ).toThrow('CustomDatabaseValues has the key "10" twice');
  });

  it('takes the order of the last of two equal CustomDatabaseValues members, as Json.NET keeps the last', () => {
    const body = jsonWith('{"a":"1","10":"2"}').replace('{', '{"CustomDatabaseValues":{"10":"2","a":"1"},');
    expect(parseJson(body)).toStrictEqual([
      ['a', '1'],
      ['10', '2'],
    ]);
  });

  it('any keys in any order, in every form', () => {
    const key = fc.oneof(
      fc.constantFrom('0', '1', '2', '10', '01', '-1', '4294967294', '4294967295', 'a', 'bb', 'B', '', '__proto__'),
      fc.string({ maxLength: 6 }),
      fc.nat().map(String),
    );
    const entries = fc.uniqueArray(fc.tuple(key, fc.option(fc.string({ maxLength: 6 }))), {
      selector: ([k]) => k,
      maxLength: 12,
    });
    fc.assert(
      fc.property(entries, fc.boolean(), (list, first) => {
        expect(parseJson(jsonWith(objectText(list), first))).toStrictEqual(list);
        expect(parseJson(jsonWith(arrayText(list), first))).toStrictEqual(list);
        // XML 1.0 has no way to write most C0 controls, nor a lone surrogate; a .NET upstream cannot send them.
        const writable = list.every(([k, v]) =>
          [k, v ?? ''].every((text) => !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ud800-\udfff\ufffe\uffff]/.test(text)),
        );
        // XML normalizes a literal CR to LF, so those are left to the text tests.
        if (writable && list.every(([k, v]) => !`${k}${v ?? ''}`.includes('\r'))) {
          expect(parseXml(xmlWith(list))).toStrictEqual(list);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('memberNamesInOrder', () => {
  it("lists the names of a root member's object value as written, repeats included", () => {
    expect(memberNamesInOrder('{"x":1,"d":{"10":1,"b":[{"2":3}],"10":1,"2":"}"}}', 'd')).toStrictEqual([
      '10',
      'b',
      '10',
      '2',
    ]);
    expect(memberNamesInOrder(' { "d" : { } } ', 'd')).toStrictEqual([]);
  });

  it('gives null when the root has no such member, or its value is not an object', () => {
    expect(memberNamesInOrder('{"x":{"d":{"a":1}}}', 'd')).toBeNull();
    expect(memberNamesInOrder('{"d":[{"a":1}]}', 'd')).toBeNull();
    expect(memberNamesInOrder('{"d":null}', 'd')).toBeNull();
    expect(memberNamesInOrder('{"D":{"a":1}}', 'd')).toBeNull();
  });
});

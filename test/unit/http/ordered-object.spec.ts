import { types } from 'node:util';
import { describe, expect, it } from 'vitest';
import { orderedObject } from '../../../src/http/dto/ordered-object';
import { toIntegrationView } from '../../../src/http/dto/views';
import { renderIntegration } from '../../../src/http/rendered';
import type { IntegrationRecord } from '../../../src/persistence/types';
import type { CustomDatabaseValues } from '../../../src/upstream/integration-status';

/** Integer-like keys ("10", "2") that an ordinary object would list first, ascending. */
const MIXED: CustomDatabaseValues = [
  ['b', '1'],
  ['10', 'ten'],
  ['2', null],
  ['a', ''],
];

describe('orderedObject', () => {
  it('serializes integer-like keys where the entries put them, with exact values', () => {
    const object = orderedObject(MIXED);
    expect(JSON.stringify(object)).toBe('{"b":"1","10":"ten","2":null,"a":""}');
    expect(JSON.stringify({ before: 1, values: object, list: [object], after: 2 })).toBe(
      '{"before":1,"values":{"b":"1","10":"ten","2":null,"a":""},"list":[{"b":"1","10":"ten","2":null,"a":""}],"after":2}',
    );
    expect(JSON.stringify(object, null, 1)).toBe('{\n "b": "1",\n "10": "ten",\n "2": null,\n "a": ""\n}');
    expect(Object.keys(object)).toStrictEqual(['b', '10', '2', 'a']);
    expect([object.b, object['10'], object['2'], object.a]).toStrictEqual(['1', 'ten', null, '']);
  });

  it('keeps the order of every kind of key: descending numbers, array-index bounds, leading zeros, signs', () => {
    const entries: CustomDatabaseValues = [
      ['4294967295', 'not an index'],
      ['4294967294', 'largest index'],
      ['01', 'leading zero'],
      ['1', 'one'],
      ['0', 'zero'],
      ['-1', 'minus one'],
      ['1.5', 'decimal'],
      ['bb', 'longer'],
      ['a', 'shorter'],
    ];
    expect(JSON.stringify(orderedObject(entries))).toBe(
      '{"4294967295":"not an index","4294967294":"largest index","01":"leading zero","1":"one","0":"zero",' +
        '"-1":"minus one","1.5":"decimal","bb":"longer","a":"shorter"}',
    );
  });

  it('is an ordinary object when one keeps the order, a proxy only when needed', () => {
    const natural = orderedObject([
      ['2', 'x'],
      ['10', 'y'],
      ['bb', 'z'],
      ['a', null],
    ]);
    expect(types.isProxy(natural)).toBe(false);
    expect(JSON.stringify(natural)).toBe('{"2":"x","10":"y","bb":"z","a":null}');
    expect(types.isProxy(orderedObject(MIXED))).toBe(true);
    expect(types.isProxy(orderedObject([]))).toBe(false);
    expect(JSON.stringify(orderedObject([]))).toBe('{}');
  });

  it('makes "__proto__" an own key and leaves the prototype alone', () => {
    for (const entries of [
      [['__proto__', 'x'] as const, ['constructor', 'y'] as const],
      [['10', 'n'] as const, ['__proto__', 'x'] as const, ['2', 'm'] as const],
    ]) {
      const object = orderedObject(entries);
      expect(Object.getPrototypeOf(object)).toBe(Object.prototype);
      expect(Object.getOwnPropertyDescriptor(object, '__proto__')?.value).toBe('x');
    }
    expect(JSON.stringify(orderedObject([['__proto__', 'x']]))).toBe('{"__proto__":"x"}');
    expect(
      JSON.stringify(
        orderedObject([
          ['10', 'n'],
          ['__proto__', 'x'],
          ['2', 'm'],
        ]),
      ),
    ).toBe('{"10":"n","__proto__":"x","2":"m"}');
  });

  it('cannot be changed, so its key list stays true', () => {
    for (const object of [orderedObject(MIXED), orderedObject([['a', '1']])]) {
      expect(Object.isFrozen(object)).toBe(true);
      expect(() => {
        (object as Record<string, string | null>).a = 'changed';
      }).toThrow(TypeError);
      expect(() => {
        (object as Record<string, string | null>).added = 'x';
      }).toThrow(TypeError);
    }
  });

  it('refuses a repeated key, which a .NET dictionary cannot have', () => {
    expect(() =>
      orderedObject([
        ['a', '1'],
        ['a', '2'],
      ]),
    ).toThrow(new TypeError('orderedObject: the key "a" is repeated'));
  });
});

describe('the served state', () => {
  const record = (customDatabaseValues: CustomDatabaseValues | null): IntegrationRecord => ({
    id: '7',
    sourceSystemId: 12,
    integrationName: 'Invoices',
    cron: '0 0 0 1 1 *',
    timeZone: 'UTC',
    misfirePolicy: 'fire_once_now',
    enabled: true,
    paused: false,
    nextFireAt: null,
    lastStatus: {
      integrationName: 'Invoices',
      sourceSystemId: 12,
      lastRunStartDateTime: null,
      lastRunEndDateTime: null,
      processStatusMeaning: 'Complete',
      maxSyncDateTime: null,
      maxSyncDateTimeUtc: null,
      maxSyncDateMaxPkId: null,
      sourceId: null,
      sourceIdString: null,
      customDatabaseValues,
    },
    maxSyncDateTimeZoneAssumed: null,
    lastSucceededAt: null,
    consecutiveFailures: 0,
    version: '3',
    updatedAt: new Date('2026-01-01T00:00:00Z'),
    lastRun: null,
  });

  it("writes customDatabaseValues in the upstream's order, between sourceIdString and enabled", () => {
    const body = renderIntegration(record(MIXED)).body.toString('utf8');
    expect(body).toContain(
      '"sourceIdString":null,"customDatabaseValues":{"b":"1","10":"ten","2":null,"a":""},"enabled":true,',
    );
    expect(JSON.stringify(toIntegrationView(record(MIXED)))).toBe(body);
  });

  it('serves null as null, no entries as {}', () => {
    expect(renderIntegration(record(null)).body.toString('utf8')).toContain('"customDatabaseValues":null,');
    expect(renderIntegration(record([])).body.toString('utf8')).toContain('"customDatabaseValues":{},');
    expect(toIntegrationView({ ...record(MIXED), lastStatus: null }).customDatabaseValues).toBeNull();
  });
});

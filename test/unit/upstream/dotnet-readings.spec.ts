import { describe, expect, it } from 'vitest';
import { assumedTimeZone } from '../../../src/upstream/dotnet-date';
import { UpstreamNotDtoError } from '../../../src/upstream/errors';
import type { IntegrationStatus } from '../../../src/upstream/integration-status';
import { parseIntegrationStatus } from '../../../src/upstream/integration-status.parser';

const ZONES = ['UTC', 'America/Chicago', 'Europe/Berlin'] as const;
const DC = 'http://schemas.datacontract.org/2004/07/Gravitate.WCF.Integration.IntegrationStatusModels';
const XSI = 'http://www.w3.org/2001/XMLSchema-instance';
const ARRAYS = 'http://schemas.microsoft.com/2003/10/Serialization/Arrays';
const SEED_DATE = '2025-12-10T08:22:52.8100855-06:00';

interface Members {
  sourceSystemId?: string;
  maxSyncDateMaxPkId?: string;
  sourceId?: string;
  lastRunStart?: string;
  lastRunEnd?: string;
  maxSync?: string;
}

/** A Json.NET body; integer members are raw JSON (number or string), dates plain text. */
function jsonBody(m: Members): string {
  return (
    `{"IntegrationName":"Orders","SourceSystemId":${m.sourceSystemId ?? '2'},` +
    `"LastRunStartDateTime":${JSON.stringify(m.lastRunStart ?? SEED_DATE)},` +
    `"LastRunEndDateTime":${JSON.stringify(m.lastRunEnd ?? SEED_DATE)},"ProcessStatusMeaning":"Done",` +
    `"MaxSyncDateTime":${JSON.stringify(m.maxSync ?? SEED_DATE)},"MaxSyncDateMaxPKId":${m.maxSyncDateMaxPkId ?? '1'},` +
    `"SourceId":${m.sourceId ?? '1'},"SourceIdString":"s","CustomDatabaseValues":{}}`
  );
}

/** A DataContractSerializer body; every member is element text. */
function xmlBody(m: Members): string {
  return (
    `<IntegrationStatusDTO xmlns="${DC}" xmlns:i="${XSI}">` +
    `<CustomDatabaseValues xmlns:a="${ARRAYS}"/><IntegrationName>Orders</IntegrationName>` +
    `<LastRunEndDateTime>${m.lastRunEnd ?? SEED_DATE}</LastRunEndDateTime>` +
    `<LastRunStartDateTime>${m.lastRunStart ?? SEED_DATE}</LastRunStartDateTime>` +
    `<MaxSyncDateMaxPKId>${m.maxSyncDateMaxPkId ?? '1'}</MaxSyncDateMaxPKId>` +
    `<MaxSyncDateTime>${m.maxSync ?? SEED_DATE}</MaxSyncDateTime><ProcessStatusMeaning>Done</ProcessStatusMeaning>` +
    `<SourceId>${m.sourceId ?? '1'}</SourceId><SourceIdString>s</SourceIdString>` +
    `<SourceSystemId>${m.sourceSystemId ?? '2'}</SourceSystemId></IntegrationStatusDTO>`
  );
}

function parse(format: 'json' | 'xml', m: Members, zone: string): IntegrationStatus {
  return format === 'json'
    ? parseIntegrationStatus(jsonBody(m), 'application/json; charset=utf-8', { defaultTimeZone: zone })
    : parseIntegrationStatus(xmlBody(m), 'application/xml; charset=utf-8', { defaultTimeZone: zone });
}

function refusal(format: 'json' | 'xml', m: Members, zone: string): UpstreamNotDtoError {
  try {
    parse(format, m, zone);
  } catch (error) {
    if (error instanceof UpstreamNotDtoError) return error;
    throw error;
  }
  throw new Error('expected a not_a_dto refusal');
}

/** The lexical forms XmlConvert.ToInt32/ToInt64 (NumberStyles.Integer, invariant) read, with their value. */
const TEXT_FORMS_ACCEPTED: Array<[text: string, canonical: string]> = [
  ['7', '7'],
  ['007', '7'],
  ['+7', '7'],
  ['-7', '-7'],
  ['-007', '-7'],
  ['+0', '0'],
  ['-0', '0'],
  ['000', '0'],
  [' 7', '7'],
  ['7 ', '7'],
  ['\t\n 7\r\n ', '7'],
  [' +0042 ', '42'],
  ['2147483647', '2147483647'],
  ['-2147483648', '-2147483648'],
  ['0000000000002147483647', '2147483647'],
];

/** Forms .NET refuses: no fraction, exponent, separators, hex, inner space, double sign, non-ASCII digits. */
const TEXT_FORMS_REFUSED = [
  '7.0',
  '7.',
  '.7',
  '7e0',
  '1,000',
  '1 000',
  '0x1F',
  '&#x31;&#x2C;0',
  '+-7',
  '--7',
  '+ 7',
  '- 7',
  '7-',
  '+',
  '-',
  ' ',
  '\u0667',
  '\uff17',
  '\u00a07',
  'Infinity',
  '(7)',
];

describe.each(ZONES)('integers in zone %s', (zone) => {
  describe.each(['xml', 'json'] as const)('%s text (XML element, JSON string)', (format) => {
    const wrap = (text: string) => (format === 'json' ? JSON.stringify(text) : text);

    it.each(TEXT_FORMS_ACCEPTED)('reads %j as %s in every integer member', (text, canonical) => {
      const status = parse(
        format,
        { sourceSystemId: wrap(text), maxSyncDateMaxPkId: wrap(text), sourceId: wrap(text) },
        zone,
      );
      expect(status.sourceSystemId).toBe(Number(canonical));
      expect(Object.is(status.sourceSystemId, -0)).toBe(false);
      expect(status.maxSyncDateMaxPkId).toBe(canonical);
      expect(status.sourceId).toBe(canonical);
    });

    it.each(TEXT_FORMS_REFUSED)('refuses %j, naming the field', (text) => {
      const xmlText = text === '&#x31;&#x2C;0' ? text : text.replace(/&/g, '&amp;');
      const error = refusal(format, { sourceId: format === 'json' ? JSON.stringify(text) : xmlText }, zone);
      expect(error.field).toBe('SourceId');
      expect(error.message).toMatch(/^SourceId must be an integer literal \(digits with an optional sign/);
    });

    it.each([
      ['9223372036854775807', '9223372036854775807'],
      ['-9223372036854775808', '-9223372036854775808'],
      [' +009223372036854775807 ', '9223372036854775807'],
      ['9007199254740993', '9007199254740993'],
    ])('reads the long %j exactly as %s', (text, canonical) => {
      expect(parse(format, { maxSyncDateMaxPkId: wrap(text) }, zone).maxSyncDateMaxPkId).toBe(canonical);
    });

    it.each([
      ['sourceId', 'SourceId', '9223372036854775808', 'the .NET long (int64)'],
      ['sourceId', 'SourceId', '-9223372036854775809', 'the .NET long (int64)'],
      ['maxSyncDateMaxPkId', 'MaxSyncDateMaxPKId', '+00099999999999999999999', 'the .NET long (int64)'],
      ['sourceSystemId', 'SourceSystemId', '2147483648', 'the .NET int (int32)'],
      ['sourceSystemId', 'SourceSystemId', ' -002147483649', 'the .NET int (int32)'],
    ] as const)('refuses %s %j out of range, naming the field', (member, wire, text, range) => {
      const error = refusal(format, { [member]: wrap(text) }, zone);
      expect(error.field).toBe(wire);
      expect(error.message).toBe(`${wire} ${JSON.stringify(text)} is outside ${range} range`);
    });
  });

  describe('JSON numbers', () => {
    it.each([
      ['5', '5'],
      ['-0', '0'],
      ['5.0', '5'],
      ['5e0', '5'],
      ['50E-1', '5'],
      ['0.5e1', '5'],
      ['9223372036854775807.000', '9223372036854775807'],
      ['-9.223372036854775808e18', '-9223372036854775808'],
    ])('reads %s (a whole value) as %s', (literal, canonical) => {
      const status = parse('json', { maxSyncDateMaxPkId: literal, sourceId: literal }, zone);
      expect(status.maxSyncDateMaxPkId).toBe(canonical);
      expect(status.sourceId).toBe(canonical);
    });

    it.each(['5.5', '55e-1', '1e-400', '0.1'])('refuses %s, which has a fraction, for a long', (literal) => {
      const error = refusal('json', { maxSyncDateMaxPkId: literal }, zone);
      expect(error.field).toBe('MaxSyncDateMaxPKId');
      expect(error.message).toBe(
        `MaxSyncDateMaxPKId must be an integer (.NET long (int64)), got ${JSON.stringify(literal)}, which has a fraction`,
      );
    });

    it('refuses a long beyond the range written with an exponent', () => {
      const error = refusal('json', { sourceId: '9.3e18' }, zone);
      expect(error.message).toBe('SourceId "9.3e18" is outside the .NET long (int64) range');
    });

    it('refuses an empty string rather than reading it as null', () => {
      const error = refusal('json', { sourceSystemId: '""' }, zone);
      expect(error.field).toBe('SourceSystemId');
      expect(error.message).toMatch(/^SourceSystemId must be an integer literal .*got ""$/);
    });
  });
});

const MIN = '0001-01-01T00:00:00.0000000Z';
const MAX = '9999-12-31T23:59:59.9999999Z';

/** Each sentinel and the UTC instant it reads as in each zone (.NET `ToUniversalTime()`, clamped). */
const SENTINELS: Array<[text: string, byZone: Record<(typeof ZONES)[number], string>]> = [
  ['0001-01-01T00:00:00', { UTC: MIN, 'America/Chicago': '0001-01-01T05:50:36.0000000Z', 'Europe/Berlin': MIN }],
  [
    '9999-12-31T23:59:59.9999999',
    { UTC: MAX, 'America/Chicago': MAX, 'Europe/Berlin': '9999-12-31T22:59:59.9999999Z' },
  ],
  ['0001-01-01T00:00:00Z', { UTC: MIN, 'America/Chicago': MIN, 'Europe/Berlin': MIN }],
  ['9999-12-31T23:59:59.9999999Z', { UTC: MAX, 'America/Chicago': MAX, 'Europe/Berlin': MAX }],
  ['0001-01-01T00:00:00+01:00', { UTC: MIN, 'America/Chicago': MIN, 'Europe/Berlin': MIN }],
  ['0001-01-01T00:00:00+14:00', { UTC: MIN, 'America/Chicago': MIN, 'Europe/Berlin': MIN }],
  ['9999-12-31T23:59:59.9999999-06:00', { UTC: MAX, 'America/Chicago': MAX, 'Europe/Berlin': MAX }],
  ['9999-12-31T20:00:00-14:00', { UTC: MAX, 'America/Chicago': MAX, 'Europe/Berlin': MAX }],
  [
    '0001-01-01T00:00:00-06:00',
    {
      UTC: '0001-01-01T06:00:00.0000000Z',
      'America/Chicago': '0001-01-01T06:00:00.0000000Z',
      'Europe/Berlin': '0001-01-01T06:00:00.0000000Z',
    },
  ],
];

describe.each(ZONES)('DateTime sentinels in zone %s', (zone) => {
  describe.each(['xml', 'json'] as const)('%s', (format) => {
    it.each(SENTINELS)('MaxSyncDateTime %s reads as its clamped UTC instant, text unchanged', (text, byZone) => {
      const status = parse(format, { maxSync: text }, zone);
      expect(status.maxSyncDateTime).toBe(text);
      expect(status.maxSyncDateTimeUtc).toBe(byZone[zone]);
    });

    it.each(SENTINELS)('LastRun dates %s are accepted and kept unchanged', (text) => {
      const status = parse(format, { lastRunStart: text, lastRunEnd: text }, zone);
      expect(status.lastRunStartDateTime).toBe(text);
      expect(status.lastRunEndDateTime).toBe(text);
      expect(status.maxSyncDateTimeUtc).toBe('2025-12-10T14:22:52.8100855Z');
    });
  });

  it('reads the /Date(ms)/ sentinels of DataContractJsonSerializer exactly', () => {
    expect(parse('json', { maxSync: '/Date(-62135596800000)/' }, zone).maxSyncDateTimeUtc).toBe(MIN);
    expect(parse('json', { maxSync: '/Date(253402300799999)/' }, zone).maxSyncDateTimeUtc).toBe(
      '9999-12-31T23:59:59.9990000Z',
    );
  });

  it('still refuses a /Date(ms)/ beyond the range, which .NET cannot construct', () => {
    const error = refusal('json', { lastRunEnd: '/Date(253402300800000)/' }, zone);
    expect(error.field).toBe('LastRunEndDateTime');
    expect(error.message).toMatch(/^LastRunEndDateTime: .*outside the \.NET DateTime range/);
  });

  it('names the zone it assumed only for a text without an offset', () => {
    expect(assumedTimeZone('2025-12-10T08:22:52.8100855', zone)).toBe(zone);
    expect(assumedTimeZone('0001-01-01T00:00:00', zone)).toBe(zone);
    expect(assumedTimeZone('2025-12-10T08:22:52.8100855Z', zone)).toBeNull();
    expect(assumedTimeZone('2025-12-10T08:22:52.8100855-06:00', zone)).toBeNull();
    expect(assumedTimeZone('/Date(1765376572810)/', zone)).toBeNull();
    expect(assumedTimeZone(null, zone)).toBeNull();
  });
});

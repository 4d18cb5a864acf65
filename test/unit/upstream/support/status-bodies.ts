import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect } from 'vitest';
import { UpstreamBodyUnreadableError, UpstreamError, UpstreamNotDtoError } from '../../../../src/upstream/errors';
import type { IntegrationStatus } from '../../../../src/upstream/integration-status';
import { parseIntegrationStatus } from '../../../../src/upstream/integration-status.parser';
import { expectedStatus } from './expected';

/**
 * The fixtures, seed bodies and error helpers shared by the integration-status.parser.*.spec.ts files.
 */

export const FIXTURES = resolve(__dirname, '../../../fixtures/upstream');
export const OPTIONS = { defaultTimeZone: 'America/Chicago' };
export const JSON_TYPE = 'application/json; charset=utf-8';
export const XML_TYPE = 'application/xml; charset=utf-8';

export function fixture(path: string): string {
  return readFileSync(join(FIXTURES, path), 'utf8');
}

export const expected = expectedStatus;

export const SEED_EXPECTED = expected('seed-sample');
export const SEED_JSON = fixture('responses/seed-sample-compact.json');
export const SEED_XML = fixture('responses/seed-sample.xml');

export function parseJson(body: string | Buffer, contentType: string | undefined = JSON_TYPE): IntegrationStatus {
  return parseIntegrationStatus(body, contentType, OPTIONS);
}

export function parseXml(body: string | Buffer, contentType: string | undefined = XML_TYPE): IntegrationStatus {
  return parseIntegrationStatus(body, contentType, OPTIONS);
}

/** The seed JSON with some members replaced (raw JSON text values) or removed (undefined). */
export function seedJsonWith(replacements: Record<string, string | undefined>): string {
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
export function seedXmlWith(replacements: Record<string, string | undefined>): string {
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

export function thrown(fn: () => unknown): UpstreamError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(UpstreamError);
    return error as UpstreamError;
  }
  throw new Error('expected an UpstreamError');
}

export function notDto(fn: () => unknown): UpstreamNotDtoError {
  const error = thrown(fn);
  expect(error).toBeInstanceOf(UpstreamNotDtoError);
  expect(error.code).toBe('not_a_dto');
  return error as UpstreamNotDtoError;
}

export function unreadable(fn: () => unknown): UpstreamBodyUnreadableError {
  const error = thrown(fn);
  expect(error).toBeInstanceOf(UpstreamBodyUnreadableError);
  expect(error.code).toBe('body_unreadable');
  return error as UpstreamBodyUnreadableError;
}

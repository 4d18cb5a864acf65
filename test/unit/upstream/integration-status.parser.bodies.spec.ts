import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { extname, join } from 'node:path';
import {
  assertSameIntegration,
  bodyExcerpt,
  parseAspNetError,
  parseContentType,
  parseIntegrationStatus,
  sameIntegrationName,
} from '../../../src/upstream/integration-status.parser';
import { UpstreamIdentityMismatchError } from '../../../src/upstream/errors';
import {
  FIXTURES,
  JSON_TYPE,
  OPTIONS,
  SEED_EXPECTED,
  SEED_JSON,
  SEED_XML,
  XML_TYPE,
  expected,
  fixture,
  notDto,
  parseJson,
  parseXml,
  seedJsonWith,
  thrown,
  unreadable,
} from './support/status-bodies';

// Every fixture against its expected twin, content types and charsets, bodies that are not a DTO, the identity check, and ASP.NET error bodies.

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

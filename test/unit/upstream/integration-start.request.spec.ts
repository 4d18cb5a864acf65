import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UpstreamRequestError } from '../../../src/upstream/errors';
import {
  INTEGRATION_START_REQUEST_NAMESPACE,
  buildIntegrationStartRequest,
  escapeXmlText,
} from '../../../src/upstream/integration-start.request';
import { type XmlElement, parseXmlDocument } from '../../../src/upstream/integration-status.parser';

const REQUESTS = resolve(__dirname, '../../fixtures/upstream/requests');
const SEED_KEY = { sourceSystemId: 1, integrationName: 'sample string 2' };
const XSI = 'http://www.w3.org/2001/XMLSchema-instance';

/** Elements only (whitespace-only text dropped), with names, namespaces, declarations and text. */
function shape(element: XmlElement): unknown {
  const elements = element.children.filter((c): c is XmlElement => c.kind === 'element');
  const text = element.children
    .filter((c) => c.kind === 'text')
    .map((c) => (c.kind === 'text' ? c.value : ''))
    .join('');
  return {
    name: element.name,
    namespaceUri: element.namespaceUri,
    declarations: element.namespaceDeclarations,
    attributes: element.attributes,
    ...(elements.length > 0 ? { children: elements.map(shape) } : { text }),
  };
}

function integrationNameOf(xml: string): string {
  const root = parseXmlDocument(xml);
  const name = root.children.find((c): c is XmlElement => c.kind === 'element' && c.localName === 'IntegrationName')!;
  expect(name.namespaceUri).toBe(INTEGRATION_START_REQUEST_NAMESPACE);
  return name.children.map((c) => (c.kind === 'text' ? c.value : '')).join('');
}

describe('buildIntegrationStartRequest: JSON', () => {
  it('equals requests/seed-request.json', () => {
    const request = buildIntegrationStartRequest('json', SEED_KEY);
    expect(JSON.parse(request.body)).toStrictEqual(
      JSON.parse(readFileSync(resolve(REQUESTS, 'seed-request.json'), 'utf8')),
    );
    expect(request).toStrictEqual({
      // The help page's compact text/html sample, byte for byte.
      body: '{"SourceSystemId":1,"IntegrationName":"sample string 2"}',
      contentType: 'application/json; charset=utf-8',
      accept: 'application/json',
    });
  });

  it('carries any string exactly, NUL and unpaired surrogates included', () => {
    for (const name of ['a"b\\c', '\u0000\u0001\r\n\t', 'Órdenes 🚚', '\uD800x', '</IntegrationName>', '']) {
      const request = buildIntegrationStartRequest('json', { sourceSystemId: -2147483648, integrationName: name });
      expect(JSON.parse(request.body)).toStrictEqual({ SourceSystemId: -2147483648, IntegrationName: name });
    }
  });
});

describe('buildIntegrationStartRequest: XML', () => {
  const seed = readFileSync(resolve(REQUESTS, 'seed-request.xml'), 'utf8');

  it('equals requests/seed-request.xml modulo whitespace between elements', () => {
    const request = buildIntegrationStartRequest('xml', SEED_KEY);
    expect(request.body).toBe(seed.replace(/>\s+</g, '><').trim());
    expect(request.contentType).toBe('application/xml; charset=utf-8');
    expect(request.accept).toBe('application/xml');
  });

  it('has the same elements, order and namespaces as the seed (DataContract order)', () => {
    const built = shape(parseXmlDocument(buildIntegrationStartRequest('xml', SEED_KEY).body));
    expect(built).toStrictEqual(shape(parseXmlDocument(seed)));
    expect(built).toStrictEqual({
      name: 'IntegrationStartRequest',
      namespaceUri: INTEGRATION_START_REQUEST_NAMESPACE,
      declarations: { i: XSI, '': INTEGRATION_START_REQUEST_NAMESPACE },
      attributes: [],
      children: [
        {
          name: 'IntegrationName',
          namespaceUri: INTEGRATION_START_REQUEST_NAMESPACE,
          declarations: {},
          attributes: [],
          text: 'sample string 2',
        },
        {
          name: 'SourceSystemId',
          namespaceUri: INTEGRATION_START_REQUEST_NAMESPACE,
          declarations: {},
          attributes: [],
          text: '1',
        },
      ],
    });
  });

  it.each([
    '<IntegrationName>x</IntegrationName>',
    'Tom & Jerry\'s "Orders"',
    ']]>',
    '<![CDATA[x]]>',
    '&amp;&lt;&#65;',
    'a\r\nb\rc\nd\te',
    '  padded  ',
    'Órdenes 🚚 Zürich',
    '',
    '<!DOCTYPE x [<!ENTITY y "z">]>',
  ])('escapes %j so that it re-parses to the same name', (name) => {
    const request = buildIntegrationStartRequest('xml', { sourceSystemId: 7, integrationName: name });
    expect(integrationNameOf(request.body)).toBe(name);
  });

  it('escapes the five special characters and CR', () => {
    expect(escapeXmlText(`&<>"'\r`)).toBe('&amp;&lt;&gt;&quot;&apos;&#xD;');
  });

  it.each([
    ['NUL', 'a\u0000b', /contains U\+0000 at index 1/],
    ['a C0 control', '\u0001', /U\+0001/],
    ['U+FFFE', '\uFFFE', /U\+FFFE/],
    ['an unpaired high surrogate', 'x\uD800', /U\+D800 at index 1/],
    ['an unpaired low surrogate', '\uDC00x', /U\+DC00 at index 0/],
  ])('refuses a name with %s in XML', (_what, name, message) => {
    let error: unknown;
    try {
      buildIntegrationStartRequest('xml', { sourceSystemId: 1, integrationName: name });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UpstreamRequestError);
    expect((error as UpstreamRequestError).code).toBe('invalid_request');
    expect((error as Error).message).toMatch(message);
  });
});

describe('buildIntegrationStartRequest: keys', () => {
  it.each([1.5, 2147483648, -2147483649, Number.NaN, Number.POSITIVE_INFINITY])('refuses SourceSystemId %s', (id) => {
    for (const format of ['json', 'xml'] as const) {
      expect(() => buildIntegrationStartRequest(format, { sourceSystemId: id, integrationName: 'x' })).toThrow(
        UpstreamRequestError,
      );
    }
  });

  it('refuses a non-string name and an unknown format', () => {
    expect(() =>
      buildIntegrationStartRequest('json', { sourceSystemId: 1, integrationName: null as unknown as string }),
    ).toThrow(/IntegrationName must be a string/);
    expect(() => buildIntegrationStartRequest('yaml' as 'json', SEED_KEY)).toThrow(UpstreamRequestError);
  });

  it('writes -0 as 0', () => {
    expect(buildIntegrationStartRequest('json', { sourceSystemId: -0, integrationName: 'x' }).body).toBe(
      '{"SourceSystemId":0,"IntegrationName":"x"}',
    );
    expect(buildIntegrationStartRequest('xml', { sourceSystemId: -0, integrationName: 'x' }).body).toContain(
      '<SourceSystemId>0</SourceSystemId>',
    );
  });
});

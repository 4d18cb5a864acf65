import { describe, expect, it } from 'vitest';
import { parseIntegrationStatus, parseXmlDocument } from '../../../src/upstream/integration-status.parser';
import {
  OPTIONS,
  SEED_EXPECTED,
  SEED_JSON,
  SEED_XML,
  XML_TYPE,
  expected,
  fixture,
  notDto,
  parseXml,
  seedXmlWith,
  thrown,
  unreadable,
} from './support/status-bodies';

// The XML (DataContractSerializer) body.

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

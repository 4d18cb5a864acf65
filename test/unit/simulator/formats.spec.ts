import { readFileSync } from 'node:fs';
import { XMLParser } from 'fast-xml-parser';
import { formatTicks } from '../../../src/demo/simulator';
import { describe, expect, it } from 'vitest';
import {
  REQUEST_NS,
  START_PATH,
  T0_NS,
  manualClock,
  postJson,
  postXml,
  rawPost,
  startSimulator,
  xmlRequest,
} from './helpers';

const ORDERS = { sourceSystemId: 7, integrationName: 'Orders' };
const DTO_NS = 'http://schemas.datacontract.org/2004/07/Gravitate.WCF.DTO.Integration';
const ARRAYS_NS = 'http://schemas.microsoft.com/2003/10/Serialization/Arrays';
const XSI_NS = 'http://www.w3.org/2001/XMLSchema-instance';
/** 7 * 1_000_000 + FNV-1a("ORDERS") % 1_000_000. */
const ORDERS_SOURCE_ID = '7514028';

function vector(name: string): string {
  return readFileSync(`test/fixtures/upstream/${name}`, 'utf8');
}

describe('UpstreamSimulator JSON answers', () => {
  it('answers a JSON request with the exact PascalCase DTO text, in the simulator offset', async () => {
    const { sim, base } = await startSimulator({ clock: manualClock(T0_NS).clock, timeZoneOffset: '-06:00' });
    const res = await postJson(base, { SourceSystemId: 7, IntegrationName: 'Orders' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await res.text()).toBe(
      '{"IntegrationName":"Orders","SourceSystemId":7,' +
        '"LastRunStartDateTime":"2026-11-29T04:11:07.1234567-06:00","LastRunEndDateTime":"2026-11-29T04:11:07.1234567-06:00",' +
        '"ProcessStatusMeaning":"Complete","MaxSyncDateTime":"2026-11-29T04:11:07.1234567-06:00",' +
        `"MaxSyncDateMaxPKId":1000,"SourceId":${ORDERS_SOURCE_ID},"SourceIdString":"SRC-7-Orders",` +
        '"CustomDatabaseValues":{"RunNumber":"1","Simulator":"tidemark"}}',
    );
    expect(sim.calls).toHaveLength(1);
    expect(sim.calls[0]).toMatchObject({
      sourceSystemId: 7,
      integrationName: 'Orders',
      format: 'json',
      rawBody: '{"SourceSystemId":7,"IntegrationName":"Orders"}',
      status: 200,
      scripted: false,
    });
    expect(sim.calls[0].headers['content-type']).toBe('application/json');
    expect(sim.calls[0].finishedAt! >= sim.calls[0].receivedAt).toBe(true);
  });

  it('reads the seed request vectors (JSON and XML) into the same key', async () => {
    const { sim, base } = await startSimulator();
    expect((await postJson(base, vector('requests/seed-request.json'))).status).toBe(200);
    expect((await postXml(base, vector('requests/seed-request.xml'), { Accept: 'application/json' })).status).toBe(200);
    expect(sim.calls.map((c) => [c.format, c.sourceSystemId, c.integrationName])).toEqual([
      ['json', 1, 'sample string 2'],
      ['xml', 1, 'sample string 2'],
    ]);
    expect(sim.callCount({ sourceSystemId: 1, integrationName: 'SAMPLE STRING 2' })).toBe(2);
  });

  it('treats JSON property names case-insensitively, last one winning, and numeric strings as ints (Json.NET)', async () => {
    const { sim, base } = await startSimulator();
    const res = await postJson(base, '{"sourcesystemid":"12","INTEGRATIONNAME":"first","integrationName":"Invoices"}');
    expect(res.status).toBe(200);
    expect(sim.calls[0]).toMatchObject({ sourceSystemId: 12, integrationName: 'Invoices' });
    const body = await res.text();
    expect(body.startsWith('{"IntegrationName":"Invoices","SourceSystemId":12,')).toBe(true);
  });

  it('answers the stored spelling of a case-insensitive pair and shares its watermark', async () => {
    const { base } = await startSimulator({ clock: manualClock(T0_NS).clock });
    await postJson(base, { SourceSystemId: 7, IntegrationName: 'Orders' });
    const second = await (await postJson(base, { SourceSystemId: 7, IntegrationName: 'ORDERS' })).text();
    expect(second).toContain('"IntegrationName":"Orders"');
    expect(second).toContain('"MaxSyncDateMaxPKId":1001');
    expect(second).toContain('"MaxSyncDateTime":"2026-11-29T10:11:07.1234568+00:00"');
  });

  it('answers 400 with an ASP.NET error for bad JSON, missing members and out-of-range ids', async () => {
    const { sim, base } = await startSimulator();
    const bad = await postJson(base, '{"SourceSystemId":');
    expect(bad.status).toBe(400);
    const badBody = (await bad.json()) as { Message: string; ModelState: Record<string, string[]> };
    expect(badBody.Message).toBe('The request is invalid.');
    expect(Object.keys(badBody.ModelState)).toEqual(['request']);

    const missing = await postJson(base, { SourceSystemId: 7 });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toEqual({
      Message: 'The request is invalid.',
      ModelState: { 'request.IntegrationName': ['The IntegrationName field is required.'] },
    });

    const zero = await postJson(base, { IntegrationName: 'Orders' });
    expect(await zero.json()).toEqual({
      Message: 'The request is invalid.',
      ModelState: { 'request.SourceSystemId': ['The field SourceSystemId must be between 1 and 2147483647.'] },
    });

    const tooBig = await postJson(base, { SourceSystemId: 2147483648, IntegrationName: 'Orders' });
    expect(tooBig.status).toBe(400);
    expect(Object.keys(((await tooBig.json()) as { ModelState: object }).ModelState)).toEqual([
      'request.SourceSystemId',
    ]);

    const nullBody = await postJson(base, 'null');
    expect(nullBody.status).toBe(400);

    expect(sim.calls.map((c) => [c.sourceSystemId, c.integrationName, c.status])).toEqual([
      [null, null, 400],
      [7, null, 400],
      [0, 'Orders', 400],
      [null, null, 400],
      [null, null, 400],
    ]);
  });

  it('answers 415 for a media type it has no formatter for, 405 for GET and 404 elsewhere', async () => {
    const { base } = await startSimulator();
    const plain = await fetch(base + '/api/integration/IntegrationStatus/IntegrationStart', {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain' },
      body: 'x',
    });
    expect(plain.status).toBe(415);
    expect(await plain.json()).toEqual({
      Message: "The request entity's media type 'text/plain' is not supported for this resource.",
    });
    const get = await fetch(base + '/api/integration/integrationstatus/integrationstart');
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    const nowhere = await fetch(base + '/api/nothing');
    expect(nowhere.status).toBe(404);
    expect(await nowhere.json()).toEqual({
      Message: "No HTTP resource was found that matches the request URI '/api/nothing'.",
    });
  });
});

describe('UpstreamSimulator text that is not ASCII', () => {
  it('sends a generated answer as UTF-8 with its byte length, a lone surrogate as U+FFFD, in JSON and XML', async () => {
    const { base } = await startSimulator({ clock: manualClock(T0_NS).clock });
    const name = 'Café ☕ \ud800';
    const json = await rawPost(base, START_PATH, JSON.stringify({ SourceSystemId: 7, IntegrationName: name }), {
      'Content-Type': 'application/json',
    });
    expect(json.status).toBe(200);
    expect(Number(json.headers['content-length'])).toBe(json.body.length);
    expect(JSON.parse(json.body.toString('utf8')).IntegrationName).toBe(name);
    const xml = await rawPost(base, START_PATH, JSON.stringify({ SourceSystemId: 8, IntegrationName: name }), {
      'Content-Type': 'application/json',
      Accept: 'application/xml',
    });
    expect(xml.status).toBe(200);
    expect(Number(xml.headers['content-length'])).toBe(xml.body.length);
    expect(xml.body.toString('utf8')).toContain('<IntegrationName>Café ☕ \ufffd</IntegrationName>');
  });

  it('formats each date from its own second whatever the order (dates of one second share their text)', async () => {
    const t = T0_NS / 100n;
    expect([
      formatTicks(t, 0),
      formatTicks(t + 10_000_000n, 0),
      formatTicks(t, -360),
      formatTicks(t + 1n, 0),
      formatTicks(t + 36_000_000_000n, 330, true),
    ]).toStrictEqual([
      '2026-11-29T10:11:07.1234567+00:00',
      '2026-11-29T10:11:08.1234567+00:00',
      '2026-11-29T04:11:07.1234567-06:00',
      '2026-11-29T10:11:07.1234568+00:00',
      '2026-11-29T16:41:07.1234567+05:30',
    ]);
  });
});

describe('UpstreamSimulator XML answers', () => {
  it('answers DataContract XML exactly in the help page shape when Accept asks for XML', async () => {
    const { base } = await startSimulator({ clock: manualClock(T0_NS).clock, timeZoneOffset: '-06:00' });
    const res = await postJson(base, { SourceSystemId: 7, IntegrationName: 'Orders' }, { Accept: 'application/xml' });
    expect(res.headers.get('content-type')).toBe('application/xml; charset=utf-8');
    expect(await res.text()).toBe(
      `<IntegrationStatusDTO xmlns:i="${XSI_NS}" xmlns="${DTO_NS}">` +
        `<CustomDatabaseValues xmlns:d2p1="${ARRAYS_NS}">` +
        '<d2p1:KeyValueOfstringstring><d2p1:Key>RunNumber</d2p1:Key><d2p1:Value>1</d2p1:Value></d2p1:KeyValueOfstringstring>' +
        '<d2p1:KeyValueOfstringstring><d2p1:Key>Simulator</d2p1:Key><d2p1:Value>tidemark</d2p1:Value></d2p1:KeyValueOfstringstring>' +
        '</CustomDatabaseValues>' +
        `<SourceId>${ORDERS_SOURCE_ID}</SourceId><SourceIdString>SRC-7-Orders</SourceIdString>` +
        '<IntegrationName>Orders</IntegrationName>' +
        '<LastRunEndDateTime>2026-11-29T04:11:07.1234567-06:00</LastRunEndDateTime>' +
        '<LastRunStartDateTime>2026-11-29T04:11:07.1234567-06:00</LastRunStartDateTime>' +
        '<MaxSyncDateMaxPKId>1000</MaxSyncDateMaxPKId>' +
        '<MaxSyncDateTime>2026-11-29T04:11:07.1234567-06:00</MaxSyncDateTime>' +
        '<ProcessStatusMeaning>Complete</ProcessStatusMeaning><SourceSystemId>7</SourceSystemId>' +
        '</IntegrationStatusDTO>',
    );
  });

  it('writes the first-run answer identical to responses/first-run-nil.xml, with i:nil for nulls', async () => {
    // 2026-03-02T12:00:00.0000001Z, written at -06:00 as in the vector.
    const clock = manualClock(BigInt(Date.UTC(2026, 2, 2, 12)) * 1_000_000n + 100n);
    const { sim, base } = await startSimulator({ clock: clock.clock, timeZoneOffset: '-06:00' });
    sim.seed(ORDERS, { firstRun: true });
    const text = await (await postXml(base, xmlRequest('Orders', 7), { Accept: 'application/xml' })).text();
    // The vector file ends with a newline; DataContractSerializer writes none.
    expect(text).toBe(vector('responses/first-run-nil.xml').replace(/\n$/, ''));

    const parsed = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', removeNSPrefix: false }).parse(
      text,
    ) as {
      IntegrationStatusDTO: Record<string, unknown>;
    };
    const dto = parsed.IntegrationStatusDTO;
    for (const name of [
      'CustomDatabaseValues',
      'SourceId',
      'SourceIdString',
      'LastRunEndDateTime',
      'MaxSyncDateMaxPKId',
      'MaxSyncDateTime',
    ]) {
      expect((dto[name] as Record<string, string>)['@i:nil']).toBe('true');
    }
    expect(dto.IntegrationName).toBe('Orders');
    expect(dto.ProcessStatusMeaning).toBe('Running');
  });

  it('writes the first-run answer as JSON equal to responses/first-run-null.json', async () => {
    const clock = manualClock(BigInt(Date.UTC(2026, 2, 2, 12)) * 1_000_000n + 100n);
    const { base } = await startSimulator({
      clock: clock.clock,
      timeZoneOffset: '-06:00',
      firstCallReturnsFirstRun: true,
    });
    const first = await (await postJson(base, { SourceSystemId: 7, IntegrationName: 'Orders' })).text();
    expect(first).toBe(JSON.stringify(JSON.parse(vector('responses/first-run-null.json'))));
    const second = await (await postJson(base, { SourceSystemId: 7, IntegrationName: 'Orders' })).text();
    expect(second).toContain(
      '"ProcessStatusMeaning":"Complete","MaxSyncDateTime":"2026-03-02T06:00:00.0000001-06:00","MaxSyncDateMaxPKId":1000,',
    );
  });

  it('negotiates like Web API: Accept first (q, then literal over ranges, JSON on ties), else the request type', async () => {
    const { base } = await startSimulator();
    const json = { SourceSystemId: 7, IntegrationName: 'Orders' };
    const cases: Array<[string | undefined, 'json' | 'xml', string]> = [
      ['text/xml', 'json', 'text/xml; charset=utf-8'],
      ['application/xml;q=0.5, application/json', 'json', 'application/json; charset=utf-8'],
      ['application/json;q=0.5, application/xml', 'json', 'application/xml; charset=utf-8'],
      ['*/*', 'xml', 'application/json; charset=utf-8'],
      ['application/*', 'xml', 'application/json; charset=utf-8'],
      ['text/html', 'json', 'application/json; charset=utf-8'],
      [undefined, 'xml', 'application/xml; charset=utf-8'],
      [undefined, 'json', 'application/json; charset=utf-8'],
      ['image/png', 'xml', 'application/xml; charset=utf-8'],
    ];
    for (const [accept, requestFormat, expected] of cases) {
      // node:http, because fetch always sends an Accept header (*/*).
      const res = await rawPost(
        base,
        START_PATH,
        requestFormat === 'xml' ? xmlRequest('Orders', 7) : JSON.stringify(json),
        {
          'Content-Type': requestFormat === 'xml' ? 'application/xml' : 'application/json',
          ...(accept ? { Accept: accept } : {}),
        },
      );
      expect([accept, requestFormat, res.headers['content-type']]).toEqual([accept, requestFormat, expected]);
      const text = res.body.toString('utf8');
      expect(text.startsWith(expected.startsWith('application/json') ? '{' : '<IntegrationStatusDTO')).toBe(true);
    }
  });
});

describe('UpstreamSimulator watermark', () => {
  it('moves the watermark strictly forward across 1,000 rapid calls on the real clock', async () => {
    const { base } = await startSimulator({ timeZoneOffset: '-06:00' });
    let previous: { ticks: bigint; pk: bigint } | undefined;
    const pattern =
      /"MaxSyncDateTime":"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\.(\d{7})-06:00","MaxSyncDateMaxPKId":(\d+),/;
    for (let i = 0; i < 1000; i++) {
      const text = await (await postJson(base, { SourceSystemId: 3, IntegrationName: 'Rapid' })).text();
      const m = pattern.exec(text);
      expect(m).not.toBeNull();
      const ticks = BigInt(Date.parse(`${m![1]}-06:00`)) * 10_000n + BigInt(m![2]);
      const pk = BigInt(m![3]);
      expect(pk).toBe(1000n + BigInt(i));
      if (previous) expect(ticks > previous.ticks).toBe(true);
      previous = { ticks, pk };
    }
  });

  it('keeps MaxSyncDateTime strictly increasing by one tick when 1,000 concurrent calls share one 100 ns instant', async () => {
    const { base } = await startSimulator({ clock: manualClock(T0_NS).clock });
    const texts: string[] = [];
    for (let batch = 0; batch < 20; batch++) {
      texts.push(
        ...(await Promise.all(
          Array.from({ length: 50 }, async () =>
            (await postJson(base, { SourceSystemId: 3, IntegrationName: 'Burst' })).text(),
          ),
        )),
      );
    }
    const seen = texts
      .map((t) => {
        const m = /"MaxSyncDateTime":"2026-11-29T10:11:(\d{2})\.(\d{7})\+00:00","MaxSyncDateMaxPKId":(\d+),/.exec(t)!;
        return { ticks: BigInt(m[1]) * 10_000_000n + BigInt(m[2]), pk: BigInt(m[3]) };
      })
      .sort((a, b) => (a.pk < b.pk ? -1 : 1));
    const firstTicks = 7n * 10_000_000n + 1_234_567n;
    expect(seen.map((s) => s.pk)).toEqual(Array.from({ length: 1000 }, (_, i) => 1000n + BigInt(i)));
    expect(seen.map((s) => s.ticks)).toEqual(Array.from({ length: 1000 }, (_, i) => firstTicks + BigInt(i)));
  });

  it('still moves forward when the clock steps back', async () => {
    const clock = manualClock(T0_NS);
    const { base } = await startSimulator({ clock: clock.clock });
    await postJson(base, { SourceSystemId: 3, IntegrationName: 'Back' });
    clock.advance(-3_600_000_000_000n);
    const text = await (await postJson(base, { SourceSystemId: 3, IntegrationName: 'Back' })).text();
    expect(text).toContain('"MaxSyncDateTime":"2026-11-29T10:11:07.1234568+00:00"');
  });

  it('keeps a seeded .NET long beyond 2^53 exact in the JSON text and the XML', async () => {
    // The clock stands before the seeded instant, so the second answer is the seed plus one tick.
    const { sim, base } = await startSimulator({
      clock: manualClock(BigInt(Date.UTC(2026, 0, 31, 23)) * 1_000_000n).clock,
    });
    sim.seed(ORDERS, {
      maxSyncDateMaxPKId: '9007199254740993',
      sourceId: 9223372036854775807n,
      maxSyncDateTime: '2026-01-31T17:59:59.9999999-06:00',
    });
    const first = await (await postJson(base, { SourceSystemId: 7, IntegrationName: 'Orders' })).text();
    expect(first).toContain(
      '"MaxSyncDateTime":"2026-01-31T23:59:59.9999999+00:00","MaxSyncDateMaxPKId":9007199254740993,"SourceId":9223372036854775807,',
    );
    const second = await (
      await postJson(base, { SourceSystemId: 7, IntegrationName: 'Orders' }, { Accept: 'application/xml' })
    ).text();
    expect(second).toContain('<SourceId>9223372036854775807</SourceId>');
    expect(second).toContain(
      '<MaxSyncDateMaxPKId>9007199254740994</MaxSyncDateMaxPKId><MaxSyncDateTime>2026-02-01T00:00:00.0000000+00:00</MaxSyncDateTime>',
    );
  });

  it('can write dates the way real .NET does (FFFFFFF: trailing zeros dropped)', async () => {
    const { base } = await startSimulator({
      clock: manualClock(BigInt(Date.UTC(2026, 0, 1)) * 1_000_000n + 120_000_000n).clock,
      trimFractionZeros: true,
    });
    const text = await (await postJson(base, { SourceSystemId: 1, IntegrationName: 'Trim' })).text();
    expect(text).toContain('"MaxSyncDateTime":"2026-01-01T00:00:00.12+00:00"');
  });
});

describe('UpstreamSimulator strict DataContractSerializer request reading', () => {
  const post = async (xml: string) => {
    const { sim, base } = await startSimulator();
    const res = await postXml(base, xml, { Accept: 'application/json' });
    return { status: res.status, body: (await res.json()) as Record<string, unknown>, call: sim.calls[0] };
  };

  it('reads prefixed elements by namespace, not by prefix', async () => {
    const r = await post(
      `<p:IntegrationStartRequest xmlns:p="${REQUEST_NS}"><p:IntegrationName>Orders</p:IntegrationName><p:SourceSystemId> 7 </p:SourceSystemId></p:IntegrationStartRequest>`,
    );
    expect([r.status, r.call.sourceSystemId, r.call.integrationName]).toEqual([200, 7, 'Orders']);
  });

  it('skips a member that comes out of order: SourceSystemId then IntegrationName leaves IntegrationName null', async () => {
    const r = await post(
      `<IntegrationStartRequest xmlns="${REQUEST_NS}"><SourceSystemId>7</SourceSystemId><IntegrationName>Orders</IntegrationName></IntegrationStartRequest>`,
    );
    expect([r.call.format, r.call.sourceSystemId, r.call.integrationName]).toEqual(['xml', 7, null]);
    expect(r.status).toBe(400);
    expect(r.body).toEqual({
      Message: 'The request is invalid.',
      ModelState: { 'request.IntegrationName': ['The IntegrationName field is required.'] },
    });
  });

  it('skips a member in another namespace: SourceSystemId stays 0', async () => {
    const r = await post(
      `<IntegrationStartRequest xmlns="${REQUEST_NS}"><IntegrationName>Orders</IntegrationName><SourceSystemId xmlns="urn:other">7</SourceSystemId></IntegrationStartRequest>`,
    );
    expect([r.call.sourceSystemId, r.call.integrationName, r.status]).toEqual([0, 'Orders', 400]);
    expect(r.body).toEqual({
      Message: 'The request is invalid.',
      ModelState: { 'request.SourceSystemId': ['The field SourceSystemId must be between 1 and 2147483647.'] },
    });
  });

  it('skips unqualified children of a prefixed root (they are in no namespace): both members default', async () => {
    const r = await post(
      `<p:IntegrationStartRequest xmlns:p="${REQUEST_NS}"><IntegrationName>Orders</IntegrationName><SourceSystemId>7</SourceSystemId></p:IntegrationStartRequest>`,
    );
    expect([r.call.sourceSystemId, r.call.integrationName, r.status]).toEqual([0, null, 400]);
  });

  it('ignores unknown and repeated elements, decodes entities and CDATA, and reads i:nil as null', async () => {
    const ok = await post(
      `<IntegrationStartRequest xmlns="${REQUEST_NS}"><Extra>1</Extra><IntegrationName>A&amp;B &#x263A;<![CDATA[<c>]]></IntegrationName>` +
        `<IntegrationName>second</IntegrationName><SourceSystemId>+7</SourceSystemId><SourceSystemId>8</SourceSystemId></IntegrationStartRequest>`,
    );
    expect([ok.status, ok.call.sourceSystemId, ok.call.integrationName]).toEqual([200, 7, 'A&B \u263A<c>']);

    const nil = await post(
      `<IntegrationStartRequest xmlns:x="http://www.w3.org/2001/XMLSchema-instance" xmlns="${REQUEST_NS}"><IntegrationName x:nil="true">Orders</IntegrationName><SourceSystemId>7</SourceSystemId></IntegrationStartRequest>`,
    );
    expect([nil.status, nil.call.sourceSystemId, nil.call.integrationName]).toEqual([400, 7, null]);
  });

  it('rejects a wrong root, a DOCTYPE, malformed XML, an undeclared prefix and a non-int id with 400', async () => {
    const bodies = [
      `<IntegrationStartRequest xmlns="urn:wrong"><IntegrationName>Orders</IntegrationName><SourceSystemId>7</SourceSystemId></IntegrationStartRequest>`,
      `<!DOCTYPE r [<!ENTITY x "y">]><IntegrationStartRequest xmlns="${REQUEST_NS}"><IntegrationName>&x;</IntegrationName><SourceSystemId>7</SourceSystemId></IntegrationStartRequest>`,
      `<IntegrationStartRequest xmlns="${REQUEST_NS}"><IntegrationName>Orders</SourceSystemId></IntegrationStartRequest>`,
      `<IntegrationStartRequest xmlns="${REQUEST_NS}"><q:IntegrationName>Orders</q:IntegrationName><SourceSystemId>7</SourceSystemId></IntegrationStartRequest>`,
      `<IntegrationStartRequest xmlns="${REQUEST_NS}"><IntegrationName>Orders</IntegrationName><SourceSystemId>7.0</SourceSystemId></IntegrationStartRequest>`,
      `<IntegrationStartRequest xmlns="${REQUEST_NS}"><IntegrationName>&nbsp;</IntegrationName><SourceSystemId>7</SourceSystemId></IntegrationStartRequest>`,
    ];
    const results = [];
    for (const xml of bodies) {
      const r = await post(xml);
      results.push([r.status, r.body.Message, r.call.sourceSystemId, r.call.integrationName]);
    }
    expect(results).toEqual(bodies.map(() => [400, 'The request is invalid.', null, null]));
    const doctype = await post(bodies[1]);
    expect((doctype.body.ModelState as Record<string, string[]>).request[0]).toBe(
      'For security reasons DTD is prohibited in this XML document. To enable DTD processing set the DtdProcessing property on XmlReaderSettings to Parse.',
    );
  });
});

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { START_PATH, T0_NS, manualClock, postJson, rawPost, startSimulator, waitFor } from './helpers';

const A = { sourceSystemId: 1, integrationName: 'Alpha' };
const B = { sourceSystemId: 2, integrationName: 'Beta' };
const body = (key: typeof A) => ({ SourceSystemId: key.sourceSystemId, IntegrationName: key.integrationName });

describe('UpstreamSimulator scripting', () => {
  it('consumes answers one per call in queue order, then falls back to the default answer', async () => {
    const { sim, base } = await startSimulator();
    sim.script('*', { status: 500 }, { body: '{"Custom":1}' });
    const first = await postJson(base, body(A));
    expect([first.status, await first.text()]).toEqual([500, '{"Message":"An error has occurred."}']);
    const second = await postJson(base, body(A));
    expect([second.status, second.headers.get('content-type'), await second.text()]).toEqual([
      200,
      'application/json; charset=utf-8',
      '{"Custom":1}',
    ]);
    const third = await postJson(base, body(A));
    expect((await third.text()).includes('"MaxSyncDateMaxPKId":1000,')).toBe(true);
    expect(sim.calls.map((c) => c.scripted)).toEqual([true, true, false]);
  });

  it("takes a pair's own queue before the '*' queue, and leaves other pairs on '*'", async () => {
    const { sim, base } = await startSimulator();
    sim.script('*', { body: 'W1' }, { body: 'W2' });
    sim.script({ sourceSystemId: 1, integrationName: 'ALPHA' }, { body: 'K1' });
    const texts = [];
    for (const key of [A, A, B, B]) texts.push(await (await postJson(base, body(key))).text());
    expect(texts[0]).toBe('K1');
    expect(texts[1]).toBe('W1');
    expect(texts[2]).toBe('W2');
    expect(texts[3].startsWith('{"IntegrationName":"Beta","SourceSystemId":2,')).toBe(true);
  });

  it('answers a vector file unchanged with a Content-Type from its extension', async () => {
    const { sim, base } = await startSimulator();
    sim.script('*', { bodyFromVector: 'int64-ids.json' }, { bodyFromVector: 'seed-sample.xml' });
    const json = await postJson(base, body(A));
    expect(json.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await json.text()).toBe(readFileSync('test/fixtures/upstream/responses/int64-ids.json', 'utf8'));
    const xml = await postJson(base, body(A));
    expect(xml.headers.get('content-type')).toBe('application/xml; charset=utf-8');
    expect(await xml.text()).toBe(readFileSync('test/fixtures/upstream/responses/seed-sample.xml', 'utf8'));
  });

  it('rejects a vector outside the responses folder or missing, at scripting time', async () => {
    const { sim } = await startSimulator();
    expect(() => sim.script('*', { bodyFromVector: '../requests/seed-request.json' })).toThrow(TypeError);
    expect(() => sim.script('*', { bodyFromVector: 'nope.json' })).toThrow(/ENOENT/);
    expect(() => sim.script('*', { status: 99 })).toThrow('status must be an integer from 200 to 599');
  });

  it('sends the scripted status and headers, replacing defaults case-insensitively', async () => {
    const { base, sim } = await startSimulator();
    sim.script('*', { status: 503, headers: { 'Retry-After': '7', 'content-type': 'text/plain' }, body: 'busy' });
    const res = await postJson(base, body(A));
    expect([res.status, res.headers.get('retry-after'), res.headers.get('content-type'), await res.text()]).toEqual([
      503,
      '7',
      'text/plain',
      'busy',
    ]);
    expect(sim.calls[0].status).toBe(503);
  });

  it('delays the headers by delayMs plus the latency', async () => {
    const { sim, base } = await startSimulator();
    sim.setLatency(100);
    sim.script('*', { delayMs: 200 });
    const started = performance.now();
    const res = await postJson(base, body(A));
    expect(res.status).toBe(200);
    // Node timers may fire up to ~1 ms early.
    expect(performance.now() - started >= 298).toBe(true);
  });

  it('generates a delayed default answer when it is sent, so the watermark is the newest', async () => {
    const clock = manualClock(T0_NS);
    const { sim, base } = await startSimulator({ clock: clock.clock });
    sim.script('*', { delayMs: 100 });
    const pending = postJson(base, body(A));
    await waitFor(() => sim.calls.length === 1);
    clock.advance(1_000_000_000n);
    expect(await (await pending).text()).toContain('"MaxSyncDateTime":"2026-11-29T10:11:08.1234567+00:00"');
  });

  it('trickles the body in chunks at the given pace', async () => {
    const { sim, base } = await startSimulator();
    const payload = JSON.stringify({ padding: 'x'.repeat(100) }); // 114 bytes
    sim.script('*', { body: payload, trickleBytesPerTick: 16, trickleIntervalMs: 30 });
    const res = await rawPost(base, START_PATH, JSON.stringify(body(A)));
    expect(res.error).toBeUndefined();
    expect(res.headers['content-length']).toBe('114');
    expect(res.body.toString('utf8')).toBe(payload);
    // 114 bytes in 16-byte ticks is 8 ticks of 30 ms (a few ms of slack for timer granularity).
    expect(res.chunks.length > 1).toBe(true);
    expect(res.elapsedMs >= 8 * 30 - 5).toBe(true);
  });

  it('resets the connection after resetAfterBytes body bytes', async () => {
    const { sim, base } = await startSimulator();
    const vector = readFileSync('test/fixtures/upstream/responses/seed-sample.json');
    sim.script('*', { bodyFromVector: 'seed-sample.json', resetAfterBytes: 40 });
    const res = await rawPost(base, START_PATH, JSON.stringify(body(A)));
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe(String(vector.length));
    expect(res.body.equals(vector.subarray(0, 40))).toBe(true);
    expect(res.error?.code).toBe('ECONNRESET');
    expect(sim.inFlight(A)).toBe(0);
  });

  it('resets mid-body for fetch too (the body read rejects)', async () => {
    const { sim, base } = await startSimulator();
    sim.script('*', { body: '{"IntegrationName":"Alpha"}', resetAfterBytes: 5 });
    const res = await postJson(base, body(A));
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow('terminated');
  });

  it('hangs forever until the client gives up, without moving the watermark', async () => {
    const { sim, base } = await startSimulator();
    sim.script(B, { hangForever: true });
    const ac = new AbortController();
    const aborting = fetch(base + START_PATH, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body(B)),
      signal: ac.signal,
    }).catch((e: Error) => e.name);
    await waitFor(() => sim.calls.length === 1);
    expect(sim.inFlight(B)).toBe(1);
    expect(sim.calls[0].finishedAt).toBeUndefined();
    ac.abort();
    expect(await aborting).toBe('AbortError');
    await waitFor(() => sim.inFlight(B) === 0);
    expect(sim.calls[0]).toMatchObject({ integrationName: 'Beta', scripted: true });
    expect(sim.calls[0].status).toBeUndefined();
    expect(typeof sim.calls[0].finishedAt).toBe('number');
    expect(await (await postJson(base, body(B))).text()).toContain('"MaxSyncDateMaxPKId":1000,');
  });

  it('answers the generated first-run shape when scripted with firstRun', async () => {
    const { sim, base } = await startSimulator({ clock: manualClock(T0_NS).clock });
    sim.script(A, { firstRun: true });
    expect(await (await postJson(base, body(A))).text()).toBe(
      '{"IntegrationName":"Alpha","SourceSystemId":1,"LastRunStartDateTime":"2026-11-29T10:11:07.1234567+00:00",' +
        '"LastRunEndDateTime":null,"ProcessStatusMeaning":"Running","MaxSyncDateTime":null,"MaxSyncDateMaxPKId":null,' +
        '"SourceId":null,"SourceIdString":null,"CustomDatabaseValues":null}',
    );
    expect(await (await postJson(base, body(A))).text()).toContain('"MaxSyncDateMaxPKId":1000,');
  });

  it('tracks in-flight calls per pair and their high-water mark', async () => {
    const { sim, base } = await startSimulator({ latencyMs: 300 });
    const concurrent = Array.from({ length: 5 }, () => postJson(base, body(A)));
    await waitFor(() => sim.calls.length === 5);
    expect(sim.inFlight(A)).toBe(5);
    await Promise.all(concurrent);
    sim.setLatency(0);
    for (let i = 0; i < 3; i++) await postJson(base, body(B));
    expect([sim.inFlight(A), sim.maxInFlight(A), sim.inFlight(B), sim.maxInFlight(B)]).toEqual([0, 5, 0, 1]);
    expect([sim.callCount(A), sim.callCount(B), sim.callCount()]).toEqual([5, 3, 8]);
    expect(sim.maxInFlight({ sourceSystemId: 9, integrationName: 'Never' })).toBe(0);
  });

  it('reset() forgets calls, state, scripts and latency', async () => {
    const { sim, base } = await startSimulator({ latencyMs: 0 });
    const calls = sim.calls;
    await postJson(base, body(A));
    sim.script('*', { status: 500 });
    sim.setLatency(500);
    sim.reset();
    expect(calls).toHaveLength(0);
    const started = performance.now();
    const res = await postJson(base, body(A));
    expect(performance.now() - started < 400).toBe(true);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('"MaxSyncDateMaxPKId":1000,');
    expect(sim.calls).toBe(calls);
    expect(calls).toHaveLength(1);
  });
});

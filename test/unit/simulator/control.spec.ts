import * as http from 'node:http';
import { describe, expect, it } from 'vitest';
import { UpstreamSimulator, parseSimulatorArgs } from '../../../src/demo/simulator';
import { START_PATH, postJson, startSimulator, waitFor } from './helpers';

const REQUEST = { SourceSystemId: 7, IntegrationName: 'Orders' };

async function control(base: string, action: string, body?: unknown) {
  const res = await fetch(`${base}/__simulator/${action}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

describe('UpstreamSimulator HTTP control', () => {
  it('scripts per key and for any key, seeds, sets latency, lists calls and resets over HTTP', async () => {
    const { base } = await startSimulator();
    expect(await control(base, 'script', { answers: [{ status: 502 }] })).toEqual({ status: 200, body: { queued: 1 } });
    expect(
      await control(base, 'script', {
        key: { sourceSystemId: 7, integrationName: 'orders' },
        answers: [
          { body: 'per-key', headers: { 'X-Test': '1' } },
          { bodyBase64: Buffer.from('bin').toString('base64') },
        ],
      }),
    ).toEqual({ status: 200, body: { queued: 2 } });
    const first = await postJson(base, REQUEST);
    expect([first.status, first.headers.get('x-test'), await first.text()]).toEqual([200, '1', 'per-key']);
    expect(await (await postJson(base, REQUEST)).text()).toBe('bin');
    expect((await postJson(base, REQUEST)).status).toBe(502);

    expect(
      await control(base, 'seed', {
        key: { sourceSystemId: 7, integrationName: 'Orders' },
        maxSyncDateMaxPKId: '9007199254740993',
      }),
    ).toEqual({
      status: 200,
      body: { seeded: true },
    });
    expect(await (await postJson(base, REQUEST)).text()).toContain('"MaxSyncDateMaxPKId":9007199254740993,');

    expect(await control(base, 'latency', { ms: 120 })).toEqual({ status: 200, body: { ms: 120 } });
    const started = performance.now();
    await postJson(base, REQUEST);
    expect(performance.now() - started >= 118).toBe(true); // timers may fire ~1 ms early

    const calls = (await control(base, 'calls')).body as Array<Record<string, unknown>>;
    expect(calls.map((c) => [c.sourceSystemId, c.integrationName, c.format, c.status])).toEqual([
      [7, 'Orders', 'json', 200],
      [7, 'Orders', 'json', 200],
      [7, 'Orders', 'json', 502],
      [7, 'Orders', 'json', 200],
      [7, 'Orders', 'json', 200],
    ]);
    expect(calls[0].rawBody).toBe('{"SourceSystemId":7,"IntegrationName":"Orders"}');

    expect(await control(base, 'stats?sourceSystemId=7&integrationName=ORDERS')).toEqual({
      status: 200,
      body: { callCount: 5, inFlight: 0, maxInFlight: 1, tokenRequests: 0 },
    });
    expect(await control(base, 'reset', {})).toEqual({ status: 200, body: { reset: true } });
    expect(await control(base, 'calls')).toEqual({ status: 200, body: [] });
  });

  it('configures auth and expires tokens over HTTP', async () => {
    const { base } = await startSimulator();
    expect(await control(base, 'auth', { mode: 'client_credentials', clientId: 'c', clientSecret: 's' })).toEqual({
      status: 200,
      body: { mode: 'client_credentials' },
    });
    const issued = (await (
      await fetch(`${base}/api/token/authorize`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: 'client_id=c&client_secret=s',
      })
    ).json()) as { access_token: string };
    const auth = { Authorization: `Bearer ${issued.access_token}` };
    expect((await postJson(base, REQUEST, auth)).status).toBe(200);
    expect(await control(base, 'expire-tokens', {})).toEqual({ status: 200, body: { expired: true } });
    expect((await postJson(base, REQUEST, auth)).status).toBe(401);
  });

  it('answers 400 for malformed control bodies and 404 for unknown controls', async () => {
    const { base } = await startSimulator();
    expect(await control(base, 'script', { answers: [{ status: 42 }] })).toEqual({
      status: 400,
      body: { Message: 'status must be an integer from 200 to 599' },
    });
    expect(await control(base, 'latency', { ms: -1 })).toEqual({
      status: 400,
      body: { Message: 'latency must be >= 0 ms' },
    });
    expect(await control(base, 'seed', { key: { sourceSystemId: 7 } })).toEqual({
      status: 400,
      body: { Message: 'key must be {"sourceSystemId": number, "integrationName": string}' },
    });
    expect(await control(base, 'nothing', {})).toEqual({
      status: 404,
      body: { Message: 'Unknown simulator control POST /__simulator/nothing' },
    });
  });
});

describe('UpstreamSimulator lifecycle', () => {
  it('stop() closes idle keep-alive and hung connections at once', async () => {
    const sim = new UpstreamSimulator();
    const base = await sim.start(0, '127.0.0.1');
    expect(/^http:\/\/127\.0\.0\.1:\d+$/.test(base)).toBe(true);
    expect(sim.url).toBe(base);
    const agent = new http.Agent({ keepAlive: true });
    const keepAlive = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        base + START_PATH,
        { method: 'POST', agent, headers: { 'Content-Type': 'application/json' } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify(REQUEST));
    });
    expect(keepAlive).toBe(200);
    sim.script('*', { hangForever: true });
    const hung = postJson(base, REQUEST).then(
      () => 'answered',
      (e: Error) => e.name,
    );
    await waitFor(() => sim.calls.length === 2);
    const started = performance.now();
    await sim.stop();
    expect(performance.now() - started < 1000).toBe(true);
    expect(await hung).toBe('TypeError');
    await expect(fetch(base + START_PATH, { method: 'POST' })).rejects.toThrow('fetch failed');
    await sim.stop();
    agent.destroy();
    expect(() => sim.url).toThrow('UpstreamSimulator is not started');
  });

  it('refuses a second start and a bad offset', async () => {
    const { sim } = await startSimulator();
    await expect(sim.start()).rejects.toThrow('UpstreamSimulator is already started');
    expect(() => new UpstreamSimulator({ timeZoneOffset: '-6:00' })).toThrow(
      'Offset must look like +HH:MM or -HH:MM, got "-6:00"',
    );
  });
});

describe('parseSimulatorArgs', () => {
  it('reads --port/--host/--latency/--offset/--first-run in both spellings', () => {
    expect(parseSimulatorArgs([])).toEqual({
      port: 0,
      host: '127.0.0.1',
      latencyMs: 0,
      timeZoneOffset: '+00:00',
      firstRun: false,
    });
    expect(
      parseSimulatorArgs(['--port', '5080', '--host=0.0.0.0', '--latency=25', '--offset', '-06:00', '--first-run']),
    ).toEqual({
      port: 5080,
      host: '0.0.0.0',
      latencyMs: 25,
      timeZoneOffset: '-06:00',
      firstRun: true,
    });
  });

  it('rejects unknown flags, missing values and bad ports', () => {
    expect(() => parseSimulatorArgs(['--prot', '1'])).toThrow(/^--prot: is not a known option$/);
    expect(() => parseSimulatorArgs(['--port'])).toThrow(/^--port: needs a value$/);
    expect(() => parseSimulatorArgs(['--port', '70000'])).toThrow(
      /^--port: must be an integer from 0 to 65535 \(got "70000"\)$/,
    );
  });
});

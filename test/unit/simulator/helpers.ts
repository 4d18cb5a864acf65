import * as http from 'node:http';
import { afterEach } from 'vitest';
import { UpstreamSimulator, type UpstreamSimulatorOptions } from '../../../src/demo/simulator';

export const REQUEST_NS = 'http://schemas.datacontract.org/2004/07/Gravitate.WCF.Integration.IntegrationStatusModels';
export const START_PATH = '/api/integration/IntegrationStatus/IntegrationStart';

/** 2026-11-29T10:11:07.1234567Z in ns since the Unix epoch. */
export const T0_NS = BigInt(Date.UTC(2026, 10, 29, 10, 11, 7)) * 1_000_000n + 123_456_700n;

/** A clock that only moves when told to. */
export function manualClock(startNs: bigint): { clock: () => bigint; advance(ns: bigint): void } {
  let now = startNs;
  return {
    clock: () => now,
    advance: (ns) => {
      now += ns;
    },
  };
}

const running: UpstreamSimulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

/** Starts a simulator that is stopped after the current test. */
export async function startSimulator(
  options?: UpstreamSimulatorOptions,
): Promise<{ sim: UpstreamSimulator; base: string }> {
  const sim = new UpstreamSimulator(options);
  running.push(sim);
  const base = await sim.start();
  return { sim, base };
}

export function postJson(base: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(base + START_PATH, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

export function postXml(base: string, xml: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(base + START_PATH, {
    method: 'POST',
    headers: { 'Content-Type': 'application/xml', ...headers },
    body: xml,
  });
}

export interface RawResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  chunks: Buffer[];
  body: Buffer;
  error?: NodeJS.ErrnoException;
  elapsedMs: number;
}

/** A request over node:http that keeps every body chunk and the transport error, if any. */
export function rawPost(
  base: string,
  path: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<RawResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    let responded = false;
    const req = http.request(
      base + path,
      { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, agent: false },
      (res) => {
        responded = true;
        const chunks: Buffer[] = [];
        let settled = false;
        const done = (error?: NodeJS.ErrnoException) => {
          if (settled) return;
          settled = true;
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            chunks,
            body: Buffer.concat(chunks),
            error,
            elapsedMs: performance.now() - started,
          });
        };
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done());
        res.on('error', (err) => done(err));
        // A reset after the headers is reported on the request as well; keep that error for the result.
        req.on('error', (err) => done(err));
        res.on('close', () => {
          if (!res.complete)
            done(Object.assign(new Error('closed before the body was complete'), { code: 'PREMATURE_CLOSE' }));
        });
      },
    );
    req.on('error', (err) => {
      if (!responded) reject(err);
    });
    req.end(body);
  });
}

export function xmlRequest(integrationName: string, sourceSystemId: number): string {
  return (
    `<IntegrationStartRequest xmlns:i="http://www.w3.org/2001/XMLSchema-instance" xmlns="${REQUEST_NS}">` +
    `<IntegrationName>${integrationName}</IntegrationName><SourceSystemId>${sourceSystemId}</SourceSystemId></IntegrationStartRequest>`
  );
}

/** Polls until `condition` holds; throws after `timeoutMs`. */
export async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('waitFor timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

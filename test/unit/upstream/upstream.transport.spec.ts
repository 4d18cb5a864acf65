import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { UpstreamBodyTooLargeError, UpstreamHttpStatusError } from '../../../src/upstream/errors';
import { cleanUp, failure, makeClient, startServer } from './support/loopback';

const FIXTURES = resolve(__dirname, '../../fixtures/upstream');
const SEED_JSON = readFileSync(resolve(FIXTURES, 'responses/seed-sample.json'));
const SEED_KEY = { sourceSystemId: 2, integrationName: 'sample string 1' };

afterEach(cleanUp);

describe('transport: decoding under the body cap', () => {
  it.each([
    ['gzip', gzipSync],
    ['deflate', deflateSync],
    ['br', brotliCompressSync],
  ] as const)('decodes %s and applies maxBodyBytes to the decoded bytes', async (encoding, compress) => {
    const small = await startServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Encoding': encoding });
      res.end(compress(SEED_JSON));
    });
    const result = await makeClient({ baseUrl: small.baseUrl, retry: { maxAttempts: 1 } }).integrationStart(SEED_KEY);
    expect(result.httpStatus).toBe(200);

    // 64 KiB of decoded JSON whitespace in a few hundred compressed bytes, against a cap of 16 KiB.
    const bomb = compress(Buffer.alloc(64 * 1024, 0x20));
    expect(bomb.length).toBeLessThan(16 * 1024);
    const large = await startServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Encoding': encoding });
      res.end(bomb);
    });
    const error = await failure(
      makeClient({ baseUrl: large.baseUrl, maxBodyBytes: 16 * 1024, retry: { maxAttempts: 1 } }).integrationStart(
        SEED_KEY,
      ),
    );
    expect(error).toBeInstanceOf(UpstreamBodyTooLargeError);
    expect(error.message).toBe('upstream response body exceeds the limit of 16384 bytes');
    expect(error.httpStatus).toBe(200);
  });
});

describe('transport: what the environment cannot change', () => {
  it('ignores HTTP_PROXY and friends: the upstream is called directly', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(SEED_JSON);
    });
    const saved = { HTTP_PROXY: process.env.HTTP_PROXY, http_proxy: process.env.http_proxy };
    // A proxy that refuses every connection: a client that used it would fail.
    process.env.HTTP_PROXY = 'http://127.0.0.1:9';
    process.env.http_proxy = 'http://127.0.0.1:9';
    try {
      const result = await makeClient({ baseUrl: server.baseUrl }).integrationStart(SEED_KEY);
      expect(result.httpStatus).toBe(200);
      expect(server.received.map((r) => r.url)).toStrictEqual(['/api/integration/IntegrationStatus/IntegrationStart']);
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it('hands a 3xx to the status mapping without following it, and sends tidemark as its User-Agent and only the codings it decodes', async () => {
    const target = await startServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(SEED_JSON);
    });
    const server = await startServer((_req, res) => {
      res.writeHead(307, { Location: `${target.baseUrl}/api/integration/IntegrationStatus/IntegrationStart` });
      res.end();
    });
    const error = await failure(makeClient({ baseUrl: server.baseUrl }).integrationStart(SEED_KEY));
    expect(error).toBeInstanceOf(UpstreamHttpStatusError);
    expect(error.message).toBe('upstream answered HTTP 307 Temporary Redirect with an empty body');
    expect(target.received).toHaveLength(0);
    expect(server.received[0].headers['user-agent']).toBe('tidemark');
    expect(server.received[0].headers['accept-encoding']).toBe('gzip, deflate, br');
  });
});

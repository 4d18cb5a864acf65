import { deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import axios, { type AxiosError, type AxiosRequestConfig } from 'axios';
import { afterEach, describe, expect, it } from 'vitest';
import { upstreamAxiosAdapter } from '../../../src/upstream/axios-adapter';
import { ENDPOINT, cleanUp, startServer } from './support/loopback';

afterEach(cleanUp);

/** What the upstream's axios instance is configured with (see transport.ts). */
const SETTINGS: AxiosRequestConfig = {
  adapter: upstreamAxiosAdapter,
  method: 'POST',
  responseType: 'arraybuffer',
  transformRequest: [],
  transformResponse: [],
  validateStatus: () => true,
  maxRedirects: 0,
  proxy: false,
  decompress: true,
};

async function rejection(promise: Promise<unknown>): Promise<AxiosError> {
  return promise.then(
    () => expect.unreachable('the request should have been refused'),
    (error: unknown) => error as AxiosError,
  );
}

describe('the upstream axios adapter', () => {
  it('sends the body with its length and the instance headers, and resolves with the bytes and any status', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(503, { 'Content-Type': 'text/plain', 'Retry-After': '7' });
      res.end('busy');
    });
    const instance = axios.create({ ...SETTINGS, headers: { 'accept-encoding': 'gzip' } });
    const response = await instance.request<Buffer>({ url: `${server.baseUrl}${ENDPOINT}`, data: 'å{}' });
    expect(response.status).toBe(503);
    expect(response.data).toStrictEqual(Buffer.from('busy'));
    expect(response.headers['retry-after']).toBe('7');
    expect(server.received).toHaveLength(1);
    expect(server.received[0].method).toBe('POST');
    expect(server.received[0].body).toBe('å{}');
    expect(server.received[0].headers['content-length']).toBe('4');
    expect(server.received[0].headers['accept-encoding']).toBe('gzip');
  });

  it('sends each request to its own URL when URLs alternate (the last one parsed is kept)', async () => {
    const answer = (name: string) =>
      startServer((_req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end(name);
      });
    const [first, second] = [await answer('first'), await answer('second')];
    const instance = axios.create(SETTINGS);
    const urls = [`${first.baseUrl}${ENDPOINT}`, `${second.baseUrl}/token?x=1`, `${first.baseUrl}${ENDPOINT}`];
    const bodies: string[] = [];
    for (const url of urls) bodies.push((await instance.request<Buffer>({ url, data: '{}' })).data.toString());
    expect(bodies).toStrictEqual(['first', 'second', 'first']);
    expect(first.received.map((request) => request.url)).toStrictEqual([ENDPOINT, ENDPOINT]);
    expect(second.received.map((request) => request.url)).toStrictEqual(['/token?x=1']);
  });

  it.each([
    ['gzip', gzipSync],
    ['deflate with a zlib header', deflateSync],
    ['deflate without one (raw)', deflateRawSync],
  ] as const)('decodes %s and drops the Content-Encoding it decoded', async (name, compress) => {
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'Content-Encoding': name.startsWith('gzip') ? 'gzip' : 'deflate' });
      res.end(compress(Buffer.from('{"a":1}')));
    });
    const response = await axios.create(SETTINGS).request<Buffer>({ url: server.baseUrl, data: '' });
    expect(response.data.toString()).toBe('{"a":1}');
    expect(response.headers['content-encoding']).toBeUndefined();
  });

  it('leaves a coding it does not decode as it came, header included', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'Content-Encoding': 'identity, gzip' });
      res.end('raw');
    });
    const response = await axios.create(SETTINGS).request<Buffer>({ url: server.baseUrl, data: '' });
    expect(response.data.toString()).toBe('raw');
    expect(response.headers['content-encoding']).toBe('identity, gzip');
  });

  it('stops at maxContentLength counted after decoding, with axios code and message', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'Content-Encoding': 'gzip' });
      res.end(gzipSync(Buffer.alloc(10_000, 0x20)));
    });
    const error = await rejection(
      axios.create(SETTINGS).request({ url: server.baseUrl, data: '', maxContentLength: 1_000 }),
    );
    expect(error.code).toBe('ERR_BAD_RESPONSE');
    expect(error.message).toBe('maxContentLength size of 1000 exceeded');
  });

  it('ends with ERR_CANCELED when its signal aborts, also before it starts', async () => {
    const server = await startServer(() => undefined);
    const controller = new AbortController();
    const pending = rejection(
      axios.create(SETTINGS).request({ url: server.baseUrl, data: '', signal: controller.signal }),
    );
    controller.abort();
    expect((await pending).code).toBe('ERR_CANCELED');
    const early = await rejection(
      axios.create(SETTINGS).request({ url: server.baseUrl, data: '', signal: controller.signal }),
    );
    expect(early.code).toBe('ERR_CANCELED');
    expect(server.received).toHaveLength(0);
  });

  it.each([
    ['a proxy', { proxy: { host: '127.0.0.1', port: 9 } }],
    ['redirects', { maxRedirects: 5 }],
    ['a timeout', { timeout: 1_000 }],
    ['a JSON response type', { responseType: 'json' }],
    ['an object body', { data: { a: 1 } }],
    ['a body over maxBodyLength', { data: 'xx', maxBodyLength: 1 }],
  ] as Array<[string, AxiosRequestConfig]>)(
    'refuses a request with %s, without sending it',
    async (_name, override) => {
      const server = await startServer((_req, res) => res.end());
      const error = await rejection(axios.create(SETTINGS).request({ url: server.baseUrl, data: '', ...override }));
      expect(error.message).toBe(
        'upstream adapter: needs proxy:false, maxRedirects:0, arraybuffer, a string body, no timeout',
      );
      expect(server.received).toHaveLength(0);
    },
  );
});

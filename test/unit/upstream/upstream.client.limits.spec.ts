import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import {
  UpstreamAbortedError,
  UpstreamBodyTooLargeError,
  UpstreamBodyUnreadableError,
  UpstreamConnectionError,
  UpstreamTimeoutError,
} from '../../../src/upstream/errors';
import { CallStop } from '../../../src/upstream/call-stop';
import { ENDPOINT, answer, cleanUp, client, failure, startServer } from './support/loopback';
import { SEED_EXPECTED, SEED_JSON, SEED_KEY } from './support/seed';

// UpstreamClient: deadlines, connections, body limits, compression and cancelling.

afterEach(async () => {
  await cleanUp();
});

describe('UpstreamClient: deadlines, connections and limits', () => {
  it('times out a body that trickles in 1 byte per 200 ms (deadline 500 ms)', async () => {
    const timers: NodeJS.Timeout[] = [];
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      let i = 0;
      const tick = () => {
        if (res.destroyed || i >= SEED_JSON.length) return;
        res.write(SEED_JSON.subarray(i, i + 1));
        i += 1;
        timers.push(setTimeout(tick, 200));
      };
      tick();
    });
    const started = performance.now();
    const error = (await failure(
      client({ baseUrl: server.baseUrl, timeoutMs: 500 }).integrationStart(SEED_KEY),
    )) as UpstreamTimeoutError;
    const elapsed = performance.now() - started;
    timers.forEach(clearTimeout);

    expect(error).toBeInstanceOf(UpstreamTimeoutError);
    expect(error.code).toBe('timeout');
    expect(error.timeoutMs).toBe(500);
    expect(error.requestSent).toBe(true);
    expect(error.responseStarted).toBe(true);
    expect(error.message).toBe(
      `upstream ${server.baseUrl}${ENDPOINT} did not answer completely within 500 ms: the request had been sent and the response body was still arriving`,
    );
    expect(elapsed).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(1_000);
  });

  it('times out when no response headers come', async () => {
    const server = await startServer(() => {
      /* never answers */
    });
    const started = performance.now();
    const error = (await failure(
      client({ baseUrl: server.baseUrl, timeoutMs: 300 }).integrationStart(SEED_KEY),
    )) as UpstreamTimeoutError;
    expect(error).toBeInstanceOf(UpstreamTimeoutError);
    expect(error.requestSent).toBe(true);
    expect(error.responseStarted).toBe(false);
    expect(error.message).toMatch(/within 300 ms: the request had been sent but no response headers had arrived$/);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('maps connection refused to a connection error naming host:port', async () => {
    const server = await startServer(answer(200, 'application/json', SEED_JSON));
    const { baseUrl, port } = server;
    await server.close();
    const error = (await failure(client({ baseUrl }).integrationStart(SEED_KEY))) as UpstreamConnectionError;
    expect(error).toBeInstanceOf(UpstreamConnectionError);
    expect(error.code).toBe('connection');
    expect(error.systemCode).toBe('ECONNREFUSED');
    expect(error.hostPort).toBe(`127.0.0.1:${port}`);
    expect(error.message).toBe(`connection to upstream 127.0.0.1:${port} failed: ECONNREFUSED`);
  });

  it('maps a connection reset mid-answer to a connection error', async () => {
    const server = await startServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(SEED_JSON.length) });
      res.write(SEED_JSON.subarray(0, 10));
      setTimeout(() => req.socket.destroy(), 20);
    });
    const error = await failure(client({ baseUrl: server.baseUrl }).integrationStart(SEED_KEY));
    expect(error).toBeInstanceOf(UpstreamConnectionError);
    expect(error.message).toMatch(new RegExp(`^connection to upstream 127\\.0\\.0\\.1:${server.port} failed`));
  });

  it('stops reading a 5 MB streamed body at maxBodyBytes, quickly', async () => {
    let written = 0;
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = () => {
        while (written < 5 * 1024 * 1024) {
          written += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      res.on('error', () => undefined);
      pump();
    });
    const started = performance.now();
    const error = (await failure(
      client({ baseUrl: server.baseUrl, maxBodyBytes: 1_048_576 }).integrationStart(SEED_KEY),
    )) as UpstreamBodyTooLargeError;
    expect(error).toBeInstanceOf(UpstreamBodyTooLargeError);
    expect(error.code).toBe('body_too_large');
    expect(error.limitBytes).toBe(1_048_576);
    expect(error.message).toBe('upstream response body exceeds the limit of 1048576 bytes');
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('refuses a body whose Content-Length is over the limit', async () => {
    const server = await startServer(answer(200, 'application/json', Buffer.alloc(2_000, 0x20)));
    const error = await failure(client({ baseUrl: server.baseUrl, maxBodyBytes: 1_024 }).integrationStart(SEED_KEY));
    expect(error).toBeInstanceOf(UpstreamBodyTooLargeError);
  });

  it('decompresses a gzip answer', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' });
      res.end(gzipSync(SEED_JSON));
    });
    const result = await client({ baseUrl: server.baseUrl }).integrationStart(SEED_KEY);
    expect(result.status).toStrictEqual(SEED_EXPECTED);
  });

  it('applies maxBodyBytes after decompression (a gzip bomb is too large)', async () => {
    const bomb = gzipSync(Buffer.alloc(8 * 1024 * 1024, 0x20));
    expect(bomb.length).toBeLessThan(64 * 1024);
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' });
      res.end(bomb);
    });
    const error = await failure(client({ baseUrl: server.baseUrl }).integrationStart(SEED_KEY));
    expect(error).toBeInstanceOf(UpstreamBodyTooLargeError);
  });

  it('maps a corrupt gzip answer to body_unreadable', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' });
      res.end('this is not gzip');
    });
    const error = await failure(client({ baseUrl: server.baseUrl }).integrationStart(SEED_KEY));
    expect(error).toBeInstanceOf(UpstreamBodyUnreadableError);
    expect(error.message).toBe(`upstream response from 127.0.0.1:${server.port} could not be decoded (Z_DATA_ERROR)`);
  });

  it('stops when the caller aborts, as aborted', async () => {
    const server = await startServer(() => {
      /* never answers */
    });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const error = await failure(
      client({ baseUrl: server.baseUrl }).integrationStart(SEED_KEY, { signal: controller.signal }),
    );
    expect(error).toBeInstanceOf(UpstreamAbortedError);
    expect(error.code).toBe('aborted');
    expect((error as UpstreamAbortedError).requestSent).toBe(true);

    const already = await failure(
      client({ baseUrl: server.baseUrl }).integrationStart(SEED_KEY, { signal: AbortSignal.abort() }),
    );
    expect(already).toBeInstanceOf(UpstreamAbortedError);
    expect(server.received).toHaveLength(1);
  });

  it('stops every call sharing one CallStop when it aborts', async () => {
    const server = await startServer(() => {
      /* never answers */
    });
    const shutdown = new CallStop();
    const upstream = client({ baseUrl: server.baseUrl });
    const calls = [
      upstream.integrationStart(SEED_KEY, { signal: shutdown }),
      upstream.integrationStart(SEED_KEY, { signal: shutdown }),
    ];
    await new Promise((resolve) => setTimeout(resolve, 100));
    shutdown.abort(new Error('shutdown'));
    const errors = await Promise.all(calls.map(failure));
    expect(errors.map((e) => [e.constructor, e.code, (e as UpstreamAbortedError).requestSent])).toStrictEqual([
      [UpstreamAbortedError, 'aborted', true],
      [UpstreamAbortedError, 'aborted', true],
    ]);
    expect(server.received).toHaveLength(2);
  });
});

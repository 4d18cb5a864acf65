import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpstreamSimulator } from '../../src/demo/simulator';
import { NEVER, startApp, type RunningApp } from '../support/app';
import { createTestDatabase, type TestDatabase } from '../support/database';

const READ_KEY = 'reader-key-hostile-7aYc1Yw0m2gk';
const sha = (key: string) => `sha256:${createHash('sha256').update(key).digest('hex')}`;
const API_KEYS = JSON.stringify([{ name: 'reader', keyHash: sha(READ_KEY), scopes: ['read'] }]);
const INVOICES = { sourceSystemId: 12, integrationName: 'Invoices' };

/** GET `path` exactly as written (no URL normalisation by the client), on a connection of its own. */
function rawGet(base: string, path: string, headers: Record<string, string> = {}): Promise<number> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method: 'GET', headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

interface RawExchange {
  /** Everything the server sent. */
  text: string;
  /** When the server closed the connection, ms after it was opened. */
  closedAfterMs: number;
}

/** Opens a TCP connection, writes `bytes` and never anything more; resolves once the server closes it. */
function holdOpen(base: string, bytes: string): Promise<RawExchange> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket: Socket = connect(Number(port), hostname, () => {
      if (bytes) socket.write(bytes);
    });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve({ text, closedAfterMs: Date.now() - started }));
    setTimeout(() => {
      socket.destroy();
      reject(new Error(`still open after 10 s; received: ${text}`));
    }, 10_000).unref();
  });
}

function bodyOf(response: string): unknown {
  return JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** The security headers every answer of the JSON API carries, as src/http/security-headers.ts sets them. */
const FIXED_HEADERS: Array<[string, string]> = [
  ['content-security-policy', "default-src 'none';frame-ancestors 'none'"],
  ['cross-origin-resource-policy', 'same-origin'],
  ['referrer-policy', 'no-referrer'],
  ['strict-transport-security', 'max-age=31536000; includeSubDomains'],
  ['x-content-type-options', 'nosniff'],
  ['x-frame-options', 'DENY'],
];

/**
 * The status line and header lines of a raw answer, each line ended by CRLF, with the x-request-id's value checked
 * to be a UUID and replaced by `<uuid>`, and a Date's checked to be an HTTP date and replaced by `<date>`.
 */
function headOf(response: string): { status: string; headers: Array<[string, string]> } {
  const end = response.indexOf('\r\n\r\n');
  expect(end).toBeGreaterThan(0);
  const [status, ...lines] = response.slice(0, end).split('\r\n');
  const headers = lines.map((line): [string, string] => {
    const colon = line.indexOf(': ');
    const name = line.slice(0, colon);
    const value = line.slice(colon + 2);
    if (name === 'Date') {
      expect(value).toMatch(/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
      return [name, '<date>'];
    }
    if (name !== 'x-request-id') return [name, value];
    expect(value).toMatch(UUID);
    return [name, '<uuid>'];
  });
  return { status, headers };
}

/**
 * The headers of a raw problem answer: `own` ones, the fixed ones, a request id, the problem+json framing and
 * `after` ones.
 */
function rawProblemHeaders(
  body: string,
  own: Array<[string, string]> = [],
  after: Array<[string, string]> = [],
): Array<[string, string]> {
  return [
    ...own,
    ...FIXED_HEADERS,
    ['x-request-id', '<uuid>'],
    ['Content-Type', 'application/problem+json; charset=utf-8'],
    ['Content-Length', String(Buffer.byteLength(body))],
    ['Connection', 'close'],
    ...after,
  ];
}

/** Writes `bytes` on a connection of its own; resolves with everything the server sent once it closes. */
async function exchange(base: string, bytes: string): Promise<string> {
  return (await holdOpen(base, bytes)).text;
}

describe('hostile clients', () => {
  const databases: TestDatabase[] = [];
  const apps: RunningApp[] = [];
  let simulator: UpstreamSimulator;
  let upstream: string;

  async function launch(env: Record<string, string>): Promise<RunningApp> {
    const db = await createTestDatabase('hostile');
    databases.push(db);
    const app = await startApp({
      DATABASE_URL: db.url,
      UPSTREAM_BASE_URL: upstream,
      INTEGRATIONS: JSON.stringify([{ ...INVOICES, cron: NEVER }]),
      API_KEYS,
      ...env,
    });
    apps.push(app);
    return app;
  }

  beforeAll(async () => {
    simulator = new UpstreamSimulator();
    upstream = await simulator.start();
  });

  afterAll(async () => {
    for (const app of apps) await app.close().catch(() => undefined);
    await simulator?.stop();
    for (const db of databases) await db.drop();
  });

  describe('with HTTP_REQUEST_TIMEOUT_MS=500', () => {
    let app: RunningApp;
    beforeAll(async () => {
      app = await launch({ HTTP_REQUEST_TIMEOUT_MS: '500', DOCS_PUBLIC: 'false', METRICS_PUBLIC: 'false' });
    });

    it('answers 408 problem+json and closes when the body never arrives', async () => {
      const { text, closedAfterMs } = await holdOpen(
        app.url,
        'POST /integrations/12/Invoices/runs HTTP/1.1\r\nHost: tidemark\r\nContent-Type: application/json\r\n' +
          'Content-Length: 1000\r\n\r\n{"a":',
      );
      const body = text.slice(text.indexOf('\r\n\r\n') + 4);
      expect(headOf(text)).toStrictEqual({
        status: 'HTTP/1.1 408 Request Timeout',
        headers: rawProblemHeaders(body),
      });
      expect(bodyOf(text)).toStrictEqual({
        type: 'https://tidemark.dev/problems/request-timeout',
        title: 'Request Timeout',
        status: 408,
        detail: 'The request was not received in time.',
      });
      expect(closedAfterMs).toBeGreaterThanOrEqual(450);
      expect(closedAfterMs).toBeLessThan(2_000);
    });

    it('answers 408 and closes when the headers never end', async () => {
      const { text, closedAfterMs } = await holdOpen(app.url, 'GET /health/live HTTP/1.1\r\nHost: tidemark\r\n');
      expect(text.split('\r\n')[0]).toBe('HTTP/1.1 408 Request Timeout');
      expect(closedAfterMs).toBeGreaterThanOrEqual(450);
      expect(closedAfterMs).toBeLessThan(2_000);
    });

    it("answers what Node's parser refuses, and CONNECT, with the fixed headers and a request id", async () => {
      const badRequest = {
        status: 'HTTP/1.1 400 Bad Request',
        own: [],
        after: [],
        problem: {
          type: 'https://tidemark.dev/problems/bad-request',
          title: 'Bad Request',
          status: 400,
          detail: 'The request is not valid HTTP/1.1 (request line, method or headers).',
        },
      };
      type Case = {
        bytes: string;
        status: string;
        own: Array<[string, string]>;
        after: Array<[string, string]>;
        problem: object;
      };
      const cases: Case[] = [
        { bytes: 'FOO /health/live HTTP/1.1\r\nHost: tidemark\r\n\r\n', ...badRequest },
        // Answered by the app's request listener, which Node gives a Date.
        { bytes: 'GET /health/live HTTP/1.1\r\n\r\n', ...badRequest, after: [['Date', '<date>']] },
        { bytes: 'GET /health/live HTTP/1.1\r\nHost: tidemark\r\nBad Header\r\n\r\n', ...badRequest },
        {
          bytes: `GET /health/live HTTP/1.1\r\nHost: tidemark\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`,
          status: 'HTTP/1.1 431 Request Header Fields Too Large',
          own: [],
          after: [],
          problem: {
            type: 'https://tidemark.dev/problems/headers-too-large',
            title: 'Request Header Fields Too Large',
            status: 431,
            detail: 'The request line and headers are too large.',
          },
        },
        {
          bytes: 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n',
          status: 'HTTP/1.1 405 Method Not Allowed',
          own: [['Allow', 'GET, HEAD, POST']],
          after: [],
          problem: {
            type: 'https://tidemark.dev/problems/method-not-allowed',
            title: 'Method Not Allowed',
            status: 405,
            detail: 'CONNECT is not supported.',
            instance: 'example.com:443',
          },
        },
      ];
      const ids = new Set<string>();
      for (const { bytes, status, own, after, problem } of cases) {
        const text = await exchange(app.url, bytes);
        const body = text.slice(text.indexOf('\r\n\r\n') + 4);
        expect([bytes.slice(0, 20), headOf(text)]).toStrictEqual([
          bytes.slice(0, 20),
          { status, headers: rawProblemHeaders(body, own, after) },
        ]);
        expect(bodyOf(text)).toStrictEqual(problem);
        ids.add(/\r\nx-request-id: ([^\r]*)\r\n/.exec(text)![1]);
      }
      // A fresh id for each answer.
      expect(ids.size).toBe(cases.length);
    });

    it('closes a connection that never sends a byte', async () => {
      const { closedAfterMs } = await holdOpen(app.url, '');
      expect(closedAfterMs).toBeGreaterThanOrEqual(450);
      expect(closedAfterMs).toBeLessThan(2_000);
    });

    it('closes without writing when a request pipelined behind a streaming response is malformed', async () => {
      const { hostname, port } = new URL(app.url);
      const socket: Socket = connect(Number(port), hostname);
      socket.setEncoding('utf8');
      socket.on('error', () => undefined);
      let text = '';
      const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
      const headReceived = new Promise<void>((resolve) =>
        socket.on('data', (chunk: string) => {
          text += chunk;
          if (text.includes('\r\n\r\n')) resolve();
        }),
      );
      socket.write(`GET /events HTTP/1.1\r\nHost: tidemark\r\nAuthorization: Bearer ${READ_KEY}\r\n\r\n`);
      await headReceived;
      socket.write('GET /health/live HTTP/1.1\r\nHost: tidemark\r\nBad Header\r\n\r\n');
      await closed;
      // The stream's head, and no second status line written into the stream's body.
      expect(text.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
      expect(text.match(/HTTP\/1\.1 \d{3}/g)).toStrictEqual(['HTTP/1.1 200']);
    });

    it('still serves a request that arrives in time', async () => {
      expect(await rawGet(app.url, '/health/live')).toBe(200);
    });

    it('applies the docs and metrics access rules to the path the router matches, however it is encoded', async () => {
      // [path, status with a read key]; without a key every one that is served or redirected must be 401, the rest
      // unchanged.
      const variants: Array<[string, number]> = [
        ['/docs', 200],
        ['/docs/', 301],
        ['/docs-json', 200],
        ['/docs-yaml', 200],
        ['/%64ocs', 200],
        ['/d%6fcs', 200],
        ['/do%63s', 200],
        ['/doc%73', 200],
        ['/%64%6F%63%73', 200],
        ['/%64ocs-json', 200],
        ['/d%6fcs-json', 200],
        ['/d%6Fcs-json', 200],
        ['/docs%2djson', 200],
        ['/docs%2Djson', 200],
        ['/docs-%6ason', 200],
        ['/docs-js%6Fn', 200],
        ['/%64%6f%63%73%2d%6a%73%6f%6e', 200],
        ['/docs%2dyaml', 200],
        ['/docs-y%61ml', 200],
        ['/%64ocs-yaml', 200],
        ['/docs-json?x=1', 200],
        ['/%64ocs/', 301],
        ['/docs-json/', 404],
        ['/docs//', 404],
        ['/docs//swagger-ui.css', 404],
        ['/docs/..%2f', 404],
        ['//docs-json', 404],
        ['/./docs-json', 404],
        ['/x/../docs-json', 404],
        ['/DOCS-JSON', 404],
        ['/%2564ocs-json', 404],
        ['/metrics', 200],
        ['/%6detrics', 200],
        ['/m%65trics', 200],
        ['/metric%73', 200],
        ['/%6D%65%74%72%69%63%73', 200],
        // An unknown query parameter is refused on every GET, once the caller may read the route.
        ['/metrics?x=1', 400],
        ['/metrics/', 404],
        ['//metrics', 404],
        ['/./metrics', 404],
        ['/METRICS', 404],
      ];
      const withKey: Array<[string, number]> = [];
      const withoutKey: Array<[string, number]> = [];
      for (const [path] of variants) {
        withKey.push([path, await rawGet(app.url, path, { authorization: `Bearer ${READ_KEY}` })]);
        withoutKey.push([path, await rawGet(app.url, path)]);
      }
      expect(withKey).toStrictEqual(variants);
      expect(withoutKey).toStrictEqual(
        // Under /docs/ the assets' wildcard route matches first, so the key is asked for before the path is resolved.
        variants.map(([path, status]) => [
          path,
          status === 200 || status === 301 || status === 400 || path.startsWith('/docs/') ? 401 : status,
        ]),
      );
    });
  });

  describe('with HTTP_MAX_CONNECTIONS=3', () => {
    let app: RunningApp;
    beforeAll(async () => {
      app = await launch({ HTTP_MAX_CONNECTIONS: '3' });
    });

    it('drops connections beyond the cap and accepts again once one closes', async () => {
      const { hostname, port } = new URL(app.url);
      const open = (): Promise<Socket> =>
        new Promise((resolve, reject) => {
          const socket = connect(Number(port), hostname, () => resolve(socket));
          socket.on('error', reject);
        });
      const held = [await open(), await open(), await open()];
      // The server has accepted the three before the fourth arrives.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const fourth = await holdOpen(app.url, 'GET /health/live HTTP/1.1\r\nHost: tidemark\r\n\r\n');
      expect(fourth.text).toBe('');
      expect(fourth.closedAfterMs).toBeLessThan(1_000);
      held[0].destroy();
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await rawGet(app.url, '/health/live')).toBe(200);
      for (const socket of held) socket.destroy();
    });
  });
});

/**
 * Real HTTP servers on 127.0.0.1 for the upstream client tests (never anything off loopback), and
 * a listener whose connects hang.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { type AddressInfo, type Socket, connect } from 'node:net';
import { Worker } from 'node:worker_threads';
import { expect } from 'vitest';
import { UpstreamBreakerRegistry } from '../../../../src/upstream/breaker';
import { UpstreamError } from '../../../../src/upstream/errors';
import { UpstreamClient, type UpstreamClientOptions } from '../../../../src/upstream/upstream.client';

export const ENDPOINT = '/api/integration/IntegrationStatus/IntegrationStart';

export interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  remotePort: number | undefined;
  /** `performance.now()` when the body had arrived. */
  at: number;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, received: Received) => void;

export interface TestServer {
  baseUrl: string;
  port: number;
  received: Received[];
  close(): Promise<void>;
}

/** Everything a test file started, closed by {@link cleanUp}. */
const servers: TestServer[] = [];
const clients: UpstreamClient[] = [];
const closers: Array<() => Promise<void>> = [];

/** A real HTTP server on 127.0.0.1, port 0; the handler runs once the request body has arrived. */
export async function startServer(handler: Handler): Promise<TestServer> {
  const received: Received[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = {
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        remotePort: req.socket.remotePort,
        at: performance.now(),
      };
      received.push(r);
      handler(req, res, r);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  let closed = false;
  const testServer: TestServer = {
    baseUrl: `http://127.0.0.1:${port}`,
    port,
    received,
    close: () => {
      if (closed) return Promise.resolve();
      closed = true;
      return new Promise<void>((done) => {
        for (const s of sockets) s.destroy();
        server.close(() => done());
      });
    },
  };
  servers.push(testServer);
  return testServer;
}

/** Answers each request with the next of `answers` (the last one repeats). */
export function sequence(...answers: Handler[]): Handler {
  let i = 0;
  return (req, res, received) => {
    const h = answers[Math.min(i, answers.length - 1)];
    i += 1;
    h(req, res, received);
  };
}

export function answer(
  status: number,
  contentType: string | null,
  body: string | Buffer,
  headers: Record<string, string> = {},
): Handler {
  return (_req, res) => {
    res.statusCode = status;
    if (contentType !== null) res.setHeader('Content-Type', contentType);
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    res.end(body);
  };
}

/** Reads the request, then never answers. */
export const silent: Handler = () => undefined;

/**
 * A client with test-friendly defaults: its own breaker registry (ports get reused between tests),
 * tiny backoff, a fixed jitter source.
 */
export function makeClient(
  overrides: Partial<UpstreamClientOptions> & { baseUrl: string },
  registry: UpstreamBreakerRegistry = new UpstreamBreakerRegistry(),
): UpstreamClient {
  const c = new UpstreamClient(
    {
      format: 'json',
      timeoutMs: 5_000,
      defaultTimeZone: 'America/Chicago',
      auth: { kind: 'none' },
      maxBodyBytes: 1_048_576,
      retry: { maxAttempts: 4, baseMs: 10, maxMs: 40 },
      random: () => 0.5,
      ...overrides,
    },
    registry,
  );
  clients.push(c);
  return c;
}

/**
 * A client for tests about one exchange, so it makes one attempt (retries, breakers and tokens have
 * their own spec files).
 */
export function client(overrides: Partial<UpstreamClientOptions> & { baseUrl: string }): UpstreamClient {
  return makeClient({ retry: { maxAttempts: 1 }, ...overrides });
}

/** Awaits a call that must fail with an UpstreamError and returns the error. */
export async function failure(promise: Promise<unknown>): Promise<UpstreamError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(UpstreamError);
    return error as UpstreamError;
  }
  throw new Error('expected the call to fail');
}

/**
 * A TCP listener on 127.0.0.1 whose connects hang: it listens with a backlog of 1 from a worker
 * thread that then blocks in `Atomics.wait`, so nothing ever accepts; idle sockets fill the accept
 * queue, after which the kernel drops further SYNs and a connect neither succeeds nor fails.
 * @returns the port, or null when this kernel still completes connects (then the caller skips).
 */
export async function hangingListener(): Promise<{ port: number } | null> {
  const flag = new SharedArrayBuffer(4);
  const worker = new Worker(
    `
    const { parentPort, workerData } = require('node:worker_threads');
    const net = require('node:net');
    const server = net.createServer(() => undefined);
    server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
      parentPort.postMessage(server.address().port);
      Atomics.wait(new Int32Array(workerData), 0, 0);
      server.close();
      process.exit(0);
    });
    `,
    { eval: true, workerData: flag },
  );
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const fillers: Socket[] = [];
  const release = async () => {
    for (const s of fillers) s.destroy();
    Atomics.store(new Int32Array(flag), 0, 1);
    Atomics.notify(new Int32Array(flag), 0);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => void worker.terminate().then(() => resolve()), 1_000);
      worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  };
  closers.push(release);
  // Fill the accept queue: connect until one connect does not complete within 300 ms.
  for (let i = 0; i < 64; i += 1) {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    fillers.push(socket);
    const connected = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 300);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    if (!connected) return { port };
  }
  return null;
}

/** Closes every server, client and listener started by the helpers (call in afterEach). */
export async function cleanUp(): Promise<void> {
  for (const c of clients.splice(0)) c.onModuleDestroy();
  await Promise.all([...servers.splice(0).map((s) => s.close()), ...closers.splice(0).map((close) => close())]);
}

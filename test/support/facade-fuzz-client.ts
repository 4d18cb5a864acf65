import * as http from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, expect } from 'vitest';
import { NEVER } from './app';
import { startStack, type Stack } from './stack';

/**
 * Property-based fuzzing of every facade route with raw requests (node:http with a raw `path`, so invalid
 * percent-encodings and raw non-ASCII bytes really reach the server). The invariant, for every input:
 * - never a 5xx and never a hang (every request has a 5 s deadline);
 * - every 4xx is `application/problem+json` whose `status` equals the HTTP status;
 * - inputs that are certainly invalid get a 4xx; valid ones may get 200/201/404.
 */

// The stack and the raw HTTP client of the facade-fuzz.*.e2e.spec.ts files; their inputs are in
// ./facade-fuzz-arbitraries.ts.

export const TIMEOUT_MS = 5_000;
export const PROBLEM_JSON = 'application/problem+json; charset=utf-8';
export const INTEGRATIONS = [
  { sourceSystemId: 7, integrationName: 'Orders' },
  { sourceSystemId: 3, integrationName: 'Tank Readings / Läger Ω' },
];
export const SOURCE_SYSTEM_ID_TEXT = /^(0|[1-9]\d{0,9})$/;

export interface RawResponse {
  status: number;
  contentType: string | undefined;
  body: Buffer;
}

export interface RawRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

/**
 * Starts a stack of its own for the calling describe (closed after it, with a count of the answers by status) and
 * returns the raw client on it.
 */
export function useFacadeFuzz(): {
  send(request: RawRequest): Promise<RawResponse>;
  check(request: RawRequest): Promise<RawResponse>;
} {
  const stats = { requests: 0, serverErrors: 0, byStatus: new Map<number, number>() };
  let stack: Stack;
  let host: string;
  let port: number;

  beforeAll(async () => {
    stack = await startStack('fuzz', {
      UPSTREAM_TIMEOUT_MS: '2000',
      // The fuzzer sends thousands of requests a minute; the limiter would answer (valid) 429s instead of the routes.
      RATE_LIMIT_PER_MINUTE: '1000000',
      INTEGRATIONS: JSON.stringify(INTEGRATIONS.map((i) => ({ ...i, cron: NEVER }))),
    });
    const url = new URL(stack.app.url);
    host = url.hostname;
    port = Number(url.port);
  });

  afterAll(async () => {
    const statuses = [...stats.byStatus.entries()]
      .sort(([a], [b]) => a - b)
      .map(([s, n]) => `${s}×${n}`)
      .join(' ');
    console.log(`facade fuzz: ${stats.requests} requests, ${stats.serverErrors} 5xx (${statuses})`);
    await stack?.close();
  });

  /** One raw request on its own connection; rejects when no complete answer arrives within TIMEOUT_MS. */
  function send(request: RawRequest): Promise<RawResponse> {
    stats.requests += 1;
    return new Promise<RawResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        req.destroy();
        reject(
          new Error(
            `hang: no complete answer within ${TIMEOUT_MS} ms to ${request.method} ${request.path.slice(0, 200)}`,
          ),
        );
      }, TIMEOUT_MS);
      const headers = { ...request.headers };
      // Framed explicitly: Node sends a GET body with neither Content-Length nor chunked encoding otherwise.
      if (
        request.body !== undefined &&
        headers['transfer-encoding'] === undefined &&
        headers['content-length'] === undefined
      ) {
        headers['content-length'] = String(Buffer.byteLength(request.body));
      }
      const req = http.request(
        { host, port, method: request.method, path: request.path, headers, agent: false },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            clearTimeout(timer);
            resolve({
              status: res.statusCode ?? 0,
              contentType: res.headers['content-type'],
              body: Buffer.concat(chunks),
            });
          });
          res.on('error', (error) => {
            clearTimeout(timer);
            reject(error);
          });
        },
      );
      // Node's client hands any answer to CONNECT to 'connect' (the rest of the stream is the tunnel)
      req.on('connect', (res: http.IncomingMessage, socket: Socket, head: Buffer) => {
        const chunks: Buffer[] = [head];
        socket.on('data', (chunk: Buffer) => chunks.push(chunk));
        socket.on('close', () => {
          clearTimeout(timer);
          resolve({
            status: res.statusCode ?? 0,
            contentType: res.headers['content-type'],
            body: Buffer.concat(chunks),
          });
        });
      });
      req.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      // A server that refuses a large body early may close before the client has written all of it; the answer
      // still arrives, so write errors (EPIPE/ECONNRESET after the response) are left to 'error' above.
      if (request.body !== undefined) req.end(request.body);
      else req.end();
    });
  }

  /** Sends and checks the invariant; returns the response for further, input-specific checks. */
  async function check(request: RawRequest): Promise<RawResponse> {
    const response = await send(request);
    stats.byStatus.set(response.status, (stats.byStatus.get(response.status) ?? 0) + 1);
    const what = `${request.method} ${request.path.slice(0, 300)} → ${response.status} ${response.contentType} ${response.body.toString('utf8', 0, 300)}`;
    if (response.status >= 500) stats.serverErrors += 1;
    expect(response.status, what).toBeGreaterThanOrEqual(200);
    expect(response.status, what).toBeLessThan(500);
    if (response.status >= 400) {
      expect(response.contentType, what).toBe(PROBLEM_JSON);
      if (request.method !== 'HEAD') {
        const problem = JSON.parse(response.body.toString('utf8')) as Record<string, unknown>;
        expect(problem.status, what).toBe(response.status);
        expect(problem.title, what).toEqual(expect.any(String));
        expect(problem.type, what).toEqual(expect.any(String));
      }
    }
    return response;
  }

  return { send, check };
}

import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config';
import { BatchedLogStream } from '../../../src/observability/log-stream';
import { createLoggerParams, createReadLineWriter, type CompletedRequest } from '../../../src/observability/logging';

const KEY = 'read-lines-key-0123456789abcdefXYZ';

function configWith(env: Record<string, string>) {
  return loadConfig(
    {
      DATABASE_URL: 'postgres://svc@db.internal:5432/tidemark',
      UPSTREAM_BASE_URL: 'https://erp.example/gravitate',
      REPLICA_ID: 'r1',
      INTEGRATIONS: '[{"sourceSystemId":1,"integrationName":"Orders"}]',
      API_KEYS: JSON.stringify([
        { name: 'reader', keyHash: `sha256:${createHash('sha256').update(KEY).digest('hex')}`, scopes: ['read'] },
      ]),
      ...env,
    },
    process.cwd(),
  );
}

function capture(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, text: () => text };
}

const served: CompletedRequest = {
  requestId: 'req-1',
  requestIdFromClient: true,
  method: 'GET',
  url: `/integrations/1/Orders?token=abc&x=${KEY}`,
  remoteAddress: '127.0.0.1',
  userAgent: `client/${KEY}`,
  statusCode: 304,
  responseTime: 2,
  apiKeyName: 'reader',
};

describe('completion lines of reads answered before Nest', () => {
  it('are the line pino-http writes: same fields, level, base, scrubbed URL and user agent', () => {
    const config = configWith({ LOG_LEVEL: 'info' });
    const out = capture();
    const write = createReadLineWriter(config, createLoggerParams(config, { destination: out.stream }));
    expect(write).not.toBeNull();
    write!(served);
    write!({ ...served, userAgent: undefined, apiKeyName: undefined, statusCode: 200 });
    write!({ ...served, requestId: KEY });
    const lines = out
      .text()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(out.text()).not.toContain(KEY);
    expect(lines).toStrictEqual([
      {
        level: 'info',
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        replicaId: 'r1',
        requestId: 'req-1',
        req: {
          method: 'GET',
          url: '/integrations/1/Orders?token=[REDACTED]&x=[REDACTED]',
          remoteAddress: '127.0.0.1',
          userAgent: 'client/[REDACTED]',
        },
        apiKeyName: 'reader',
        res: { statusCode: 304 },
        responseTime: 2,
        msg: 'request completed',
      },
      {
        level: 'info',
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        replicaId: 'r1',
        requestId: 'req-1',
        req: { method: 'GET', url: '/integrations/1/Orders?token=[REDACTED]&x=[REDACTED]', remoteAddress: '127.0.0.1' },
        res: { statusCode: 200 },
        responseTime: 2,
        msg: 'request completed',
      },
      expect.objectContaining({ requestId: '[REDACTED]' }),
    ]);
  });

  it('are not written where pino-http would not write them', () => {
    const warn = configWith({ LOG_LEVEL: 'warn' });
    expect(createReadLineWriter(warn, createLoggerParams(warn, { destination: capture().stream }))).toBeNull();
    const silent = configWith({ LOG_LEVEL: 'info' });
    expect(createReadLineWriter(silent, createLoggerParams(silent, { silent: true }))).toBeNull();
  });
});

describe('the batched log stream', () => {
  it('writes the lines gathered over a moment together, in order, and flushes on demand', async () => {
    const file = join(tmpdir(), `batched-${process.pid}.log`);
    const fd = openSync(file, 'w');
    try {
      const stream = new BatchedLogStream(fd);
      stream.write('one\n');
      stream.write('two\n');
      expect(readFileSync(file, 'utf8')).toBe('');
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(readFileSync(file, 'utf8')).toBe('one\ntwo\n');
      stream.write('three\n');
      stream.flushSync();
      expect(readFileSync(file, 'utf8')).toBe('one\ntwo\nthree\n');
    } finally {
      closeSync(fd);
      rmSync(file, { force: true });
    }
  });
});

describe('secret-named fields', () => {
  it('are redacted at any depth, in any letter case, and at the top of child loggers’ bindings; so is a request id that is a key', async () => {
    const { default: pino } = await import('pino');
    const config = configWith({ LOG_LEVEL: 'info' });
    const out = capture();
    const [options] = createLoggerParams(config, { destination: out.stream }).pinoHttp as [Record<string, unknown>];
    const logger = pino(options, out.stream);
    logger
      .child({ requestId: KEY, access_token: 'child-secret' })
      .info({ a: { b: { c: { d: { AUTHORIZATION: 'deep-secret', keep: 'kept' } } } } }, 'deep');
    expect(out.text()).not.toContain(KEY);
    expect(out.text()).not.toContain('secret"');
    const line = JSON.parse(out.text()) as Record<string, any>;
    expect(line.requestId).toBe('[REDACTED]');
    expect(line.access_token).toBe('[REDACTED]');
    expect(line.a).toStrictEqual({ b: { c: { d: { AUTHORIZATION: '[REDACTED]', keep: 'kept' } } } });
  });
});

import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { loadConfig } from '../../../src/config';
import { createLoggerParams, requestIdFor } from '../../../src/observability/logging';
import { scrubText, secretValuesOf } from '../../../src/observability/redaction';

const M = 'SECRET-MARKER';

function capture(): { stream: Writable; lines: () => Array<Record<string, any>>; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return {
    stream,
    text: () => text,
    lines: () =>
      text
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line)),
  };
}

const config = loadConfig(
  {
    DATABASE_URL: `postgres://svc:${M}-db@db.internal:5432/tidemark`,
    UPSTREAM_BASE_URL: `https://erp-user:${M}-url@erp.example/gravitate`,
    UPSTREAM_AUTH: 'basic',
    UPSTREAM_USERNAME: 'tidemark',
    UPSTREAM_PASSWORD: `${M}-basic`,
    REPLICA_ID: 'r1',
    LOG_LEVEL: 'debug',
    INTEGRATIONS: '[{"sourceSystemId":1,"integrationName":"Orders"}]',
  },
  process.cwd(),
);

/** A pino logger built exactly from the nestjs-pino parameters, writing to `stream`. */
function loggerFor(stream: Writable) {
  const params = createLoggerParams(config, { destination: stream });
  const [options] = params.pinoHttp as [pino.LoggerOptions, unknown];
  return pino(options, stream);
}

describe('log redaction', () => {
  it('redacts secret-named fields at any of the first levels', () => {
    const out = capture();
    loggerFor(out.stream).info(
      {
        request: {
          headers: { authorization: `Bearer ${M}-1`, 'x-api-key': `${M}-2`, cookie: `s=${M}-3`, accept: 'json' },
        },
        token: `${M}-4`,
        upstream: { client_secret: `${M}-5`, password: `${M}-6`, nested: { access_token: `${M}-7` } },
      },
      'headers',
    );
    expect(out.text()).not.toContain(M);
    const [line] = out.lines();
    expect(line.request.headers).toStrictEqual({
      authorization: '[REDACTED]',
      'x-api-key': '[REDACTED]',
      cookie: '[REDACTED]',
      accept: 'json',
    });
    expect(line.upstream.nested.access_token).toBe('[REDACTED]');
  });

  it('scrubs URL credentials, auth schemes and configured secret values from messages, fields and errors', () => {
    const out = capture();
    const log = loggerFor(out.stream);
    log.warn(`connect to postgres://svc:${M}-db@db.internal:5432/tidemark failed`);
    log.warn(
      {
        target: `https://someone:${M}-other@host/x`,
        header: `Basic ${Buffer.from(`tidemark:${M}-basic`).toString('base64')}`,
      },
      'call',
    );
    log.error({ err: new Error(`upstream said ${M}-basic was wrong; Authorization: Bearer ${M}-bearer-xyz`) }, 'boom');
    log.info('literal %s', `${M}-url`);
    expect(out.text()).not.toContain(M);
    const [connect, call, boom] = out.lines();
    expect(connect.msg).toBe('connect to postgres://[REDACTED]@db.internal:5432/tidemark failed');
    expect(call.target).toBe('https://[REDACTED]@host/x');
    expect(boom.err.message).toBe('upstream said [REDACTED] was wrong; Authorization: Bearer [REDACTED]');
  });

  it('shows configured integration names and migration names as they are, however key-like their shape', () => {
    // CamelCase names change letter case about as often as a generated key does.
    const name = 'PurchaseOrderLinesToWarehouse2025BatchSync01';
    const migration = 'LetRunFinishesUpdateIntegrationsInPlace1795958400000';
    const generatedKey = 'q3Xv9LrT2mW8kZp4Nd7Hc1Yb6Gf0Js5Ue2Ri8Ow3Ta9';
    const named = loadConfig(
      {
        DATABASE_URL: 'postgres://svc@db.internal:5432/tidemark',
        UPSTREAM_BASE_URL: 'https://erp.example/gravitate',
        REPLICA_ID: 'r1',
        INTEGRATIONS: JSON.stringify([{ sourceSystemId: 7, integrationName: name }]),
      },
      process.cwd(),
    );
    const out = capture();
    const [options] = createLoggerParams(named, { destination: out.stream }).pinoHttp as [pino.LoggerOptions, unknown];
    const log = pino(options, out.stream);
    log.info({ integrationName: name }, `run 3 of 7/"${name}" succeeded`);
    log.info(`applied migrations: ${migration}`);
    log.info(`GET /integrations/7/${generatedKey}`);
    expect(out.lines().map((line) => [line.integrationName, line.msg])).toStrictEqual([
      [name, `run 3 of 7/"${name}" succeeded`],
      [undefined, `applied migrations: ${migration}`],
      [undefined, 'GET /integrations/7/[REDACTED]'],
    ]);
    // The same names are cut out where nothing says they are names.
    expect(scrubText(`7/"${name}"`)).toBe('7/"[REDACTED]"');
  });

  it('writes one JSON line per event with level names, ISO time and the replica id', () => {
    const out = capture();
    loggerFor(out.stream).info({ runId: '7' }, 'hello');
    expect(out.lines()).toStrictEqual([
      {
        level: 'info',
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
        replicaId: 'r1',
        runId: '7',
        msg: 'hello',
      },
    ]);
  });

  it('lists the configured secret values, longest first, and scrubs free text', () => {
    const secrets = secretValuesOf(config);
    expect(secrets).toEqual(expect.arrayContaining([`${M}-db`, `${M}-url`, `${M}-basic`]));
    // URL user names are cut only where the URL appears: out of context they would mangle words.
    expect(secrets).not.toContain('erp-user');
    expect(secrets).toStrictEqual([...secrets].sort((a, b) => b.length - a.length));
    expect(scrubText('GET /x?api_key=abc&limit=2&token=def')).toBe(
      'GET /x?api_key=[REDACTED]&limit=2&token=[REDACTED]',
    );
    expect(scrubText('WWW-Authenticate: Bearer realm="tidemark"')).toBe('WWW-Authenticate: Bearer realm="tidemark"');
  });
});

describe('request ids', () => {
  const request = (id?: string) => ({ headers: id === undefined ? {} : { 'x-request-id': id } }) as never;
  it('honours a sane X-Request-Id and makes a UUID otherwise', () => {
    expect(requestIdFor(request('abc-123_x.y:z'))).toBe('abc-123_x.y:z');
    for (const bad of [undefined, '', 'a b', 'x'.repeat(129), 'new\nline', '{"json":1}']) {
      expect(requestIdFor(request(bad))).toMatch(/^[0-9a-f-]{36}$/);
    }
  });
});

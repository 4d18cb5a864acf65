import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config';
import { createLoggerParams } from '../../../src/observability/logging';
import { REDACTED, scrubText, secretValuesOf } from '../../../src/observability/redaction';

const KEY = Buffer.alloc(32, 0xa5).toString('base64');
const SECRET = `whsec_${KEY}`;

const config = loadConfig(
  {
    DATABASE_URL: 'postgres://svc@db.internal:5432/tidemark',
    UPSTREAM_BASE_URL: 'https://erp.example/gravitate',
    REPLICA_ID: 'r1',
    LOG_LEVEL: 'debug',
    INTEGRATIONS: '[{"sourceSystemId":1,"integrationName":"Orders"}]',
    WEBHOOKS: JSON.stringify([
      { name: 'sink', url: 'https://hooks:pw-in-hook-url@hooks.example/in', secret: SECRET, types: ['*'] },
    ]),
  },
  process.cwd(),
);

describe('webhook secrets in logs', () => {
  it('lists each signing secret, whole and as its base64 key, and the password of the webhook URL', () => {
    const secrets = secretValuesOf(config);
    expect(secrets).toEqual(expect.arrayContaining([SECRET, KEY, 'pw-in-hook-url']));
    expect(secrets.indexOf(SECRET)).toBeLessThan(secrets.indexOf(KEY));
    expect(scrubText(`secret ${SECRET} or key ${KEY}.`, secrets)).toBe(`secret ${REDACTED} or key ${REDACTED}.`);
  });

  it('never writes a signing secret to a log line, in a message or a field', () => {
    let text = '';
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        text += chunk.toString();
        done();
      },
    });
    const [options] = createLoggerParams(config, { destination: stream }).pinoHttp as [pino.LoggerOptions, unknown];
    pino(options, stream).warn({ webhook: { signing: SECRET, raw: KEY } }, `configured ${SECRET}`);
    const line = JSON.parse(text.trim()) as { msg: string; webhook: Record<string, string> };
    expect(line.msg).toBe(`configured ${REDACTED}`);
    expect(line.webhook).toStrictEqual({ signing: REDACTED, raw: REDACTED });
    expect(text).not.toContain(KEY);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { UpstreamBreakerRegistry } from '../../../src/upstream/breaker';
import { UpstreamClient, type UpstreamClientOptions } from '../../../src/upstream/upstream.client';
import { ENDPOINT, answer, cleanUp, client, failure, startServer } from './support/loopback';
import { SEED_JSON, SEED_KEY } from './support/seed';

// UpstreamClient: authentication, and secrets kept out of request lines and messages.

afterEach(async () => {
  await cleanUp();
});

describe('UpstreamClient: authentication and secrets', () => {
  it('sends a bearer token', async () => {
    const server = await startServer(answer(200, 'application/json', SEED_JSON));
    await client({ baseUrl: server.baseUrl, auth: { kind: 'bearer', token: 'tok-3f9a.b_c~' } }).integrationStart(
      SEED_KEY,
    );
    expect(server.received[0].headers.authorization).toBe('Bearer tok-3f9a.b_c~');
  });

  it('sends Basic credentials, UTF-8 encoded', async () => {
    const server = await startServer(answer(200, 'application/json', SEED_JSON));
    await client({
      baseUrl: server.baseUrl,
      auth: { kind: 'basic', username: 'svc-tidemark', password: 'pä:ss wörd' },
    }).integrationStart(SEED_KEY);
    expect(server.received[0].headers.authorization).toBe(
      `Basic ${Buffer.from('svc-tidemark:pä:ss wörd', 'utf8').toString('base64')}`,
    );
  });

  it('uses URL credentials as Basic auth but never in the request line or in messages', async () => {
    const server = await startServer(answer(500, 'text/plain', 'denied for url-user:url-secret-pw'));
    const base = `http://url-user:url-secret-pw@127.0.0.1:${server.port}/base`;
    const error = await failure(client({ baseUrl: base }).integrationStart(SEED_KEY));
    expect(server.received[0].url).toBe(`/base${ENDPOINT}`);
    expect(server.received[0].headers.authorization).toBe(
      `Basic ${Buffer.from('url-user:url-secret-pw').toString('base64')}`,
    );
    expect(error.message).toBe(
      'upstream answered HTTP 500 Internal Server Error; body: denied for [redacted]:[redacted]',
    );
  });

  it('never puts the token or password in a message, even when the upstream echoes them', async () => {
    const token = 'very-secret-token-123';
    const server = await startServer(
      answer(401, 'application/json', JSON.stringify({ Message: `Token ${token} is expired` })),
    );
    const error = await failure(
      client({ baseUrl: server.baseUrl, auth: { kind: 'bearer', token } }).integrationStart(SEED_KEY),
    );
    expect(error.message).toBe('upstream answered HTTP 401 Unauthorized: Message: Token [redacted] is expired');
    expect(JSON.stringify(error)).not.toContain(token);
    expect(String(error.cause ?? '')).not.toContain(token);

    const timeoutServer = await startServer(() => undefined);
    const timeout = await failure(
      client({ baseUrl: `http://u:hunter2-secret@127.0.0.1:${timeoutServer.port}`, timeoutMs: 100 }).integrationStart(
        SEED_KEY,
      ),
    );
    expect(timeout.message).not.toContain('hunter2-secret');
    expect(timeout.message).toContain(`http://127.0.0.1:${timeoutServer.port}${ENDPOINT}`);
  });

  it('refuses bad options at construction without echoing secrets', () => {
    const base = {
      format: 'json',
      timeoutMs: 1_000,
      defaultTimeZone: 'America/Chicago',
      auth: { kind: 'none' },
    } as const;
    expect(() => new UpstreamClient({ ...base, baseUrl: 'not a url' })).toThrow(TypeError);
    expect(() => new UpstreamClient({ ...base, baseUrl: 'ftp://x' })).toThrow(/http:\/\/ or https:\/\//);
    expect(() => new UpstreamClient({ ...base, baseUrl: 'http://u:secret-pw@h/x?k=v' })).toThrow(
      'upstream baseUrl http://h/x must not have a query string or fragment',
    );
    expect(() => new UpstreamClient({ ...base, baseUrl: 'http://h', defaultTimeZone: 'Nowhere/Else' })).toThrow(
      RangeError,
    );
    expect(() => new UpstreamClient({ ...base, baseUrl: 'http://h', timeoutMs: 0 })).toThrow(RangeError);
    expect(() => new UpstreamClient({ ...base, baseUrl: 'http://h', maxBodyBytes: 1.5 })).toThrow(RangeError);
    expect(
      () => new UpstreamClient({ ...base, baseUrl: 'http://h', auth: { kind: 'bearer', token: 'a b\r\n' } }),
    ).toThrow('upstream bearer token must be non-empty visible ASCII (no spaces or line breaks)');
    expect(
      () =>
        new UpstreamClient({ ...base, baseUrl: 'http://h', auth: { kind: 'basic', username: 'a:b', password: 'p' } }),
    ).toThrow(/RFC 7617/);
    const unsupported = { kind: 'oauth_magic', secret: 'cs-secret' } as unknown as UpstreamClientOptions['auth'];
    expect(() => new UpstreamClient({ ...base, baseUrl: 'http://h', auth: unsupported })).toThrow(
      'upstream auth.kind "oauth_magic" is not supported (supported: "none", "bearer", "basic", "client_credentials")',
    );
    const cc = { kind: 'client_credentials', clientId: 'id', clientSecret: 'cs-secret-value' } as const;
    expect(() => new UpstreamClient({ ...base, baseUrl: 'http://h', auth: { ...cc, clientId: '' } })).toThrow(
      'upstream client_credentials needs a clientId',
    );
    expect(() => new UpstreamClient({ ...base, baseUrl: 'http://h', auth: { ...cc, clientSecret: '' } })).toThrow(
      'upstream client_credentials needs a clientSecret',
    );
    expect(() => new UpstreamClient({ ...base, baseUrl: 'http://h', auth: { ...cc, tokenUrl: '/relative' } })).toThrow(
      'upstream client_credentials tokenUrl is not an absolute URL',
    );
    expect(
      () => new UpstreamClient({ ...base, baseUrl: 'http://h', auth: { ...cc, tokenUrl: 'http://u:p@h/token' } }),
    ).toThrow('upstream client_credentials tokenUrl must not contain credentials');
    const badFormat = { ...cc, requestFormat: 'xml' } as unknown as UpstreamClientOptions['auth'];
    expect(() => new UpstreamClient({ ...base, baseUrl: 'http://h', auth: badFormat })).toThrow(
      'upstream client_credentials requestFormat must be "json" or "form", got "xml"',
    );
    expect(() => new UpstreamClient({ ...base, baseUrl: 'http://h', retry: { maxAttempts: 0 } })).toThrow(
      'upstream retry.maxAttempts must be a positive integer, got 0',
    );
    expect(() => new UpstreamClient({ ...base, baseUrl: 'http://h', retry: { baseMs: -1 } })).toThrow(RangeError);
    expect(() => new UpstreamClient({ ...base, baseUrl: 'http://h', connectTimeoutMs: 0 })).toThrow(
      'upstream connectTimeoutMs must be a positive number of milliseconds, got 0',
    );
    expect(() => new UpstreamClient({ ...base, baseUrl: 'http://h', attemptTimeoutMs: -5 })).toThrow(RangeError);
    expect(
      () =>
        new UpstreamClient(
          { ...base, baseUrl: 'http://h-breaker-test', breaker: { threshold: 0 } },
          new UpstreamBreakerRegistry(),
        ),
    ).toThrow('upstream breaker threshold must be a positive integer, got 0');
  });
});

import { describe, expect, it } from 'vitest';
import { T0_NS, manualClock, postJson, startSimulator } from './helpers';

const REQUEST = { SourceSystemId: 7, IntegrationName: 'Orders' };
const TOKEN_PATH = '/api/token/authorize';

async function token(base: string, body: string, contentType: string, headers: Record<string, string> = {}) {
  const res = await fetch(base + TOKEN_PATH, {
    method: 'POST',
    headers: { 'Content-Type': contentType, ...headers },
    body,
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

describe('UpstreamSimulator auth', () => {
  it('issues client_credentials tokens for JSON and form bodies and accepts them until they expire', async () => {
    const clock = manualClock(T0_NS);
    const { sim, base } = await startSimulator({ clock: clock.clock });
    sim.configureAuth({
      mode: 'client_credentials',
      clientId: 'tidemark',
      clientSecret: 's3cr=t&x',
      tokenTtlSeconds: 60,
    });

    const fromJson = await token(
      base,
      JSON.stringify({ client_id: 'tidemark', client_secret: 's3cr=t&x', scope: 'integration' }),
      'application/json',
    );
    expect(fromJson.status).toBe(200);
    expect(fromJson.headers.get('cache-control')).toBe('no-store');
    expect(Object.keys(fromJson.body)).toEqual(['access_token', 'token_type', 'expires_in', 'scope']);
    expect([fromJson.body.token_type, fromJson.body.expires_in, fromJson.body.scope]).toEqual([
      'bearer',
      60,
      'integration',
    ]);
    expect(/^sim-[A-Za-z0-9_-]{24}$/.test(fromJson.body.access_token as string)).toBe(true);

    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: 'tidemark',
      client_secret: 's3cr=t&x',
    }).toString();
    const fromForm = await token(base, form, 'application/x-www-form-urlencoded');
    expect(fromForm.status).toBe(200);
    expect(Object.keys(fromForm.body)).toEqual(['access_token', 'token_type', 'expires_in']);
    expect(fromForm.body.access_token).not.toBe(fromJson.body.access_token);

    const ok = await postJson(base, REQUEST, { Authorization: `Bearer ${fromForm.body.access_token}` });
    expect(ok.status).toBe(200);

    clock.advance(59_999_999_999n);
    expect((await postJson(base, REQUEST, { Authorization: `bearer ${fromJson.body.access_token}` })).status).toBe(200);
    clock.advance(1n);
    const expired = await postJson(base, REQUEST, { Authorization: `Bearer ${fromJson.body.access_token}` });
    expect(expired.status).toBe(401);
    expect(expired.headers.get('www-authenticate')).toBe('Bearer realm="tidemark-simulator", error="invalid_token"');
    expect(await expired.json()).toEqual({ Message: 'Authorization has been denied for this request.' });
    expect(sim.tokenRequests).toBe(2);
  });

  it('expireTokens() invalidates every issued token at once', async () => {
    const { sim, base } = await startSimulator();
    sim.configureAuth({ mode: 'client_credentials', clientId: 'c', clientSecret: 's' });
    const issued = await token(base, 'client_id=c&client_secret=s', 'application/x-www-form-urlencoded');
    const auth = { Authorization: `Bearer ${issued.body.access_token}` };
    expect((await postJson(base, REQUEST, auth)).status).toBe(200);
    sim.expireTokens();
    expect((await postJson(base, REQUEST, auth)).status).toBe(401);
    const again = await token(base, 'client_id=c&client_secret=s', 'application/x-www-form-urlencoded');
    expect((await postJson(base, REQUEST, { Authorization: `Bearer ${again.body.access_token}` })).status).toBe(200);
    expect(sim.tokenRequests).toBe(2);
  });

  it('refuses wrong client credentials and other grant types, counting every token request', async () => {
    const { sim, base } = await startSimulator();
    sim.configureAuth({ mode: 'client_credentials', clientId: 'c', clientSecret: 's' });
    expect(await token(base, 'client_id=c&client_secret=wrong', 'application/x-www-form-urlencoded')).toMatchObject({
      status: 400,
      body: { error: 'invalid_client' },
    });
    expect(
      await token(base, 'grant_type=password&client_id=c&client_secret=s', 'application/x-www-form-urlencoded'),
    ).toMatchObject({
      status: 400,
      body: { error: 'unsupported_grant_type' },
    });
    // RFC 6749 client_secret_basic is accepted as well.
    const basic = await token(base, 'grant_type=client_credentials', 'application/x-www-form-urlencoded', {
      Authorization: `Basic ${Buffer.from('c:s').toString('base64')}`,
    });
    expect(basic.status).toBe(200);
    expect(sim.tokenRequests).toBe(3);
  });

  it('answers access_token as "Bearer xyz" when prefixBearer is set; only "Bearer xyz" (not doubled) is accepted', async () => {
    const { sim, base } = await startSimulator();
    sim.configureAuth({ mode: 'client_credentials', clientId: 'c', clientSecret: 's', prefixBearer: true });
    const issued = await token(base, JSON.stringify({ client_id: 'c', client_secret: 's' }), 'application/json');
    const accessToken = issued.body.access_token as string;
    expect(accessToken.startsWith('Bearer sim-')).toBe(true);
    expect((await postJson(base, REQUEST, { Authorization: `Bearer ${accessToken}` })).status).toBe(401);
    expect((await postJson(base, REQUEST, { Authorization: accessToken })).status).toBe(200);
  });

  it('demands a static bearer token or basic credentials in those modes', async () => {
    const { sim, base } = await startSimulator();
    sim.configureAuth({ mode: 'bearer', token: 'static-token' });
    const missing = await postJson(base, REQUEST);
    expect([missing.status, missing.headers.get('www-authenticate')]).toEqual([
      401,
      'Bearer realm="tidemark-simulator"',
    ]);
    expect((await postJson(base, REQUEST, { Authorization: 'Bearer static-token' })).status).toBe(200);

    sim.configureAuth({ mode: 'basic', username: 'u', password: 'p:w' });
    const wrong = await postJson(base, REQUEST, { Authorization: `Basic ${Buffer.from('u:nope').toString('base64')}` });
    expect([wrong.status, wrong.headers.get('www-authenticate')]).toEqual([401, 'Basic realm="tidemark-simulator"']);
    expect(
      (await postJson(base, REQUEST, { Authorization: `Basic ${Buffer.from('u:p:w').toString('base64')}` })).status,
    ).toBe(200);
    expect(() => sim.configureAuth({ mode: 'basic', username: 'u' })).toThrow('auth mode basic needs password');
  });

  it('does not spend a scripted answer on an unauthorised call', async () => {
    const { sim, base } = await startSimulator();
    sim.configureAuth({ mode: 'bearer', token: 't' });
    sim.script('*', { status: 503 });
    expect((await postJson(base, REQUEST)).status).toBe(401);
    expect((await postJson(base, REQUEST, { Authorization: 'Bearer t' })).status).toBe(503);
    expect(sim.calls.map((c) => [c.status, c.scripted])).toEqual([
      [401, undefined],
      [503, true],
    ]);
  });
});

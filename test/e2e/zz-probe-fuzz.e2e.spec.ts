import * as http from 'node:http';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { UpstreamSimulator } from '../../src/simulator';
import { startApp, NEVER, type RunningApp } from '../support/app';
import { createTestDatabase, type TestDatabase } from '../support/database';

function raw(base: string, method: string, path: string, opts: { headers?: Record<string, string>; body?: Buffer | string } = {}) {
  const u = new URL(base);
  return new Promise<{ status: number; type: string | undefined; body: string }>((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method, path, headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, type: res.headers['content-type'], body: Buffer.concat(chunks).toString('utf8').slice(0, 300) }));
      res.on('error', reject);
    });
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

describe('probe', () => {
  let db: TestDatabase; let sim: UpstreamSimulator; let app: RunningApp;
  beforeAll(async () => {
    db = await createTestDatabase('probe'); sim = new UpstreamSimulator();
    const up = await sim.start();
    app = await startApp({ DATABASE_URL: db.url, UPSTREAM_BASE_URL: up, RATE_LIMIT_PER_MINUTE: '1000000',
      INTEGRATIONS: JSON.stringify([{ sourceSystemId: 7, integrationName: 'Orders', cron: NEVER }]) });
  });
  afterAll(async () => { await app?.close(); await sim?.stop(); await db?.drop(); });
  it('probes', async () => {
    const cases: Array<[string, string, any?]> = [
      ['GET', '/integrations/7/%FF'], ['GET', '/integrations/7/%C3%28'], ['GET', '/integrations/7/%'], ['GET', '/integrations/7/%%'],
      ['GET', '/integrations?cursor=%FF'], ['GET', '/integrations?limit=%'], ['GET', '/integrations?limit=%%&x=%FF'],
      ['GET', '/integrations/7/\u00ff'], ['GET', '/integrations/7/a\u00c3('],
      ['GET', '/%FF'], ['GET', '/integrations/%FF/x'], ['GET', '/health/live?%FF'], ['GET', '/docs-json?x=%'],
      ['GET', `/integrations/7/${'a'.repeat(10240)}`], ['GET', `/integrations/7/${'%41'.repeat(10240)}`],
      ['GET', `/integrations?cursor=${'a'.repeat(10240)}`],
      ['GET', `/integrations/7/${'a'.repeat(100000)}`],
      ['GET', '/integrations/7/a%00b'], ['GET', '/integrations?sourceSystemId=1e3'], ['GET', '/integrations?sourceSystemId[]=1'],
      ['GET', '/integrations?limit[a]=1'], ['GET', '/integrations?__proto__=1'], ['GET', '/integrations?constructor=1'],
      ['GET', '/integrations?cursor=WyJpIiwtMSwiYSJd'], ['GET', '/integrations?cursor=WyJpIiwxZTMwMCwiYSJd'],
      ['PUT', '/integrations'], ['DELETE', '/integrations/7/Orders'], ['PATCH', '/integrations/7/Orders/runs'], ['PUT', '/health/live'],
      ['OPTIONS', '/integrations'], ['HEAD', '/integrations'], ['TRACE', '/integrations'], ['PROPFIND', '/integrations'],
      ['POST', '/integrations/7/Orders/pause', { headers: { 'content-type': 'text/plain' }, body: 'hi' }],
      ['POST', '/integrations/7/Orders/pause', { headers: { 'content-type': 'application/xml' }, body: '<a/>' }],
      ['POST', '/integrations/7/Orders/pause', { headers: { 'content-type': 'application/json' }, body: '{bad' }],
      ['POST', '/integrations/7/Orders/pause', { headers: { 'content-type': 'application/json' }, body: '{"__proto__":{"x":1}}' }],
      ['POST', '/integrations/7/Orders/pause', { headers: { 'content-type': 'application/json' }, body: '{"constructor":{"prototype":{"x":1}}}' }],
      ['POST', '/integrations/7/Orders/pause', { headers: { 'content-type': 'application/json' }, body: '' }],
      ['POST', '/integrations/7/Orders/pause', { headers: { 'content-type': 'application/json' }, body: 'x'.repeat(1 << 20) }],
      ['POST', '/integrations/7/Orders/pause', { headers: { 'content-type': 'text/plain' }, body: 'x'.repeat(1 << 20) }],
      ['POST', '/integrations/7/Orders/pause', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=%FF&b=%' }],
      ['POST', '/integrations/7/Orders/pause', { headers: { 'content-type': 'multipart/form-data; boundary=x' }, body: '--x--' }],
      ['POST', '/integrations/7/Orders/pause', { headers: { 'content-type': ';;;' }, body: 'x' }],
      ['POST', '/integrations/7/Orders/pause', { headers: { 'content-type': 'application/json; charset=utf-16' }, body: '{}' }],
      ['POST', '/integrations/7/Orders/pause', { headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: 'xx' }],
      ['POST', '/integrations/7/Orders/pause', { headers: { 'content-type': 'application/json', 'content-length': '999999999' }, body: '{}' }],
      ['POST', '/integrations/7/Orders/resume', { headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, body: '{}' }],
      ['POST', '/health/live'], ['POST', '/docs-json'], ['POST', '/integrations'],
      ['GET', '/integrations/7/Orders/runs?cursor=WyJyIiwiOTk5OTk5OTk5OTk5OTk5OTk5OTkiXQ'],
      ['GET', '/integrations/7/Orders/runs?limit=1&cursor=WyJyIiwiMSJd'],
      ['GET', '/integrations/0/x'], ['GET', '/integrations/00/x'], ['GET', '/integrations/7/%2e%2e'], ['GET', '/integrations/7/..'],
      ['GET', '/integrations/7/Orders/'], ['GET', '/integrations/7/Orders/runs/'], ['GET', '/integrations//'], ['GET', '//integrations'],
      ['GET', '/integrations/7/%E2%80%AE'], ['GET', '/integrations/7/%ED%A0%80'], ['GET', '/integrations/7/%F4%90%80%80'],
      ['GET', '/integrations/7/%C0%AF'], ['GET', "/integrations/7/'%20OR%201=1--"], ['GET', '/integrations?sourceSystemId=%27%20OR%201%3D1'],
      ['GET', '/integrations/7/%7F'], ['GET', '/integrations/7/%20'], ['GET', '/integrations/7/%EF%BF%BF'],
      ['GET', '*'], ['GET', 'http://evil/integrations'], ['GET', '/integrations#frag'],
    ];
    for (const [m, p, o] of cases) {
      try { const r = await raw(app.url, m, p, o); console.log(m, p.slice(0, 80), '→', r.status, r.type, r.body.slice(0, 160)); }
      catch (e) { console.log(m, p.slice(0, 80), '→ ERROR', (e as Error).message); }
    }
  });
});

import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UpstreamSimulator } from '../../src/demo/simulator';
import { eventually, integrationPath, NEVER, type RunningApp } from '../support/app';
import { startStack, type Stack } from '../support/stack';
import { readSse, WebhookReceiver } from '../support/webhook-receiver';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;

describe('events e2e: signed webhooks and the live stream', () => {
  let stack: Stack;
  let app: RunningApp;
  let simulator: UpstreamSimulator;
  const receiver = new WebhookReceiver();

  beforeAll(async () => {
    const url = await receiver.start();
    stack = await startStack('events', {
      INTEGRATIONS: JSON.stringify([
        { sourceSystemId: 7, integrationName: 'Orders', cron: NEVER },
        { sourceSystemId: 8, integrationName: 'Invoices', cron: NEVER },
      ]),
      EVENT_SOURCE: 'urn:tidemark:test',
      WEBHOOKS: JSON.stringify([{ name: 'orders-sink', url, secret: SECRET, types: ['tidemark.watermark.*'] }]),
      // Retries within about 16 s, so a receiver down for 10 s is still served.
      WEBHOOK_RETRY_SCHEDULE: '0,200ms,500ms,1s,2s,2s,2s,2s,2s,2s,2s',
    });
    ({ app, simulator } = stack);
  });

  afterAll(async () => {
    await stack?.close();
    await receiver.stop();
  });

  const runNow = async (sourceSystemId: number, name: string) => {
    const response = await fetch(`${app.url}${integrationPath(sourceSystemId, name)}/runs`, { method: 'POST' });
    expect(response.status).toBe(201);
    return (await response.json()) as { id: string; watermarkAfter: unknown; watermarkBefore: unknown };
  };
  const uniqueIds = () => [...new Set(receiver.received.map((r) => r.headers['webhook-id'] as string))];

  it('delivers a signed tidemark.watermark.advanced that the standardwebhooks verifier accepts', async () => {
    const run = await runNow(7, 'Orders');
    const [message] = await eventually(async () => receiver.received.length >= 1 && receiver.received);
    const verified = new Webhook(SECRET).verify(message.body, {
      'webhook-id': message.headers['webhook-id'] as string,
      'webhook-timestamp': message.headers['webhook-timestamp'] as string,
      'webhook-signature': message.headers['webhook-signature'] as string,
    }) as Record<string, unknown>;
    expect(message.headers['content-type']).toBe('application/json');
    expect(verified).toStrictEqual({
      specversion: '1.0',
      id: message.headers['webhook-id'],
      source: 'urn:tidemark:test',
      type: 'tidemark.watermark.advanced',
      subject: '7/Orders',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      datacontenttype: 'application/json',
      data: { runId: run.id, trigger: 'manual', before: null, after: run.watermarkAfter },
    });
    expect(() =>
      new Webhook(`whsec_${randomBytes(32).toString('base64')}`).verify(message.body, {
        'webhook-id': message.headers['webhook-id'] as string,
        'webhook-timestamp': message.headers['webhook-timestamp'] as string,
        'webhook-signature': message.headers['webhook-signature'] as string,
      }),
    ).toThrow();
    const deliveries = await eventually(async () => {
      const page = (await (await fetch(`${app.url}/webhooks/orders-sink/deliveries`)).json()) as {
        items: Array<Record<string, unknown>>;
      };
      return page.items[0]?.status === 'delivered' && page.items;
    });
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]).toMatchObject({
      subscription: 'orders-sink',
      eventId: message.headers['webhook-id'],
      eventType: 'tidemark.watermark.advanced',
      subject: '7/Orders',
      status: 'delivered',
      attempts: 1,
      nextAttemptAt: null,
      lastStatus: 204,
      lastError: null,
    });
    expect((await fetch(`${app.url}/webhooks/nobody/deliveries`)).status).toBe(404);
  });

  it('a receiver down for 10 s gets every event after it comes back, in order, each once by webhook-id', async () => {
    receiver.received.length = 0;
    const port = receiver.port;
    await receiver.stop();
    const runs = [];
    for (let i = 0; i < 4; i++) runs.push(await runNow(i % 2 === 0 ? 7 : 8, i % 2 === 0 ? 'Orders' : 'Invoices'));
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    await receiver.start(port);
    await eventually(async () => uniqueIds().length >= 4, 20_000);
    const bodies = new Map(receiver.received.map((r) => [r.headers['webhook-id'] as string, JSON.parse(r.body)]));
    const received = uniqueIds().map((id) => bodies.get(id) as { data: { runId: string }; subject: string });
    // Per integration, in run order; each run's event once.
    const runIdsOf = (subject: string) => received.filter((e) => e.subject === subject).map((e) => e.data.runId);
    expect(runIdsOf('7/Orders')).toStrictEqual([runs[0].id, runs[2].id]);
    expect(runIdsOf('8/Invoices')).toStrictEqual([runs[1].id, runs[3].id]);
    const failed = (await (await fetch(`${app.url}/webhooks/orders-sink/deliveries?limit=4`)).json()) as {
      items: Array<{ attempts: number; status: string }>;
    };
    expect(failed.items.map((d) => d.status)).toStrictEqual(['delivered', 'delivered', 'delivered', 'delivered']);
    expect(Math.max(...failed.items.map((d) => d.attempts))).toBeGreaterThan(1);
  }, 60_000);

  it('an SSE client that reconnects with Last-Event-ID misses nothing, and filters apply', async () => {
    const first = await fetch(`${app.url}/events`);
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe('text/event-stream');
    expect(first.headers.get('x-content-type-options')).toBe('nosniff');
    const stream = readSse(first.body!);
    expect((await stream.next()).value).toStrictEqual({ comment: 'open' });
    const run = await runNow(7, 'Orders');
    const seen = (await stream.next()).value as { id: string; data: string };
    expect(JSON.parse(seen.data)).toMatchObject({
      id: seen.id,
      type: 'tidemark.watermark.advanced',
      subject: '7/Orders',
    });
    expect(JSON.parse(seen.data).data.runId).toBe(run.id);
    await stream.return(undefined);

    const missed = [await runNow(8, 'Invoices'), await runNow(7, 'Orders')];
    const pause = { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"reason":"test"}' };
    expect((await fetch(`${app.url}${integrationPath(7, 'Orders')}/pause`, pause)).status).toBe(200);
    expect((await fetch(`${app.url}${integrationPath(7, 'Orders')}/resume`, { method: 'POST' })).status).toBe(200);

    const again = await fetch(`${app.url}/events`, { headers: { 'Last-Event-ID': seen.id } });
    const replay = readSse(again.body!);
    const got: Array<{ type: string; subject: string; data: { runId?: string } }> = [];
    while (got.length < 4) {
      const message = (await replay.next()).value as { data?: string };
      if (message.data) got.push(JSON.parse(message.data));
    }
    await replay.return(undefined);
    expect(got.map((e) => [e.type, e.subject, e.data.runId])).toStrictEqual([
      ['tidemark.watermark.advanced', '8/Invoices', missed[0].id],
      ['tidemark.watermark.advanced', '7/Orders', missed[1].id],
      ['tidemark.integration.paused', '7/Orders', undefined],
      ['tidemark.integration.resumed', '7/Orders', undefined],
    ]);

    const filtered = await fetch(`${app.url}/events?types=tidemark.integration.*&sourceSystemId=7`, {
      headers: { 'Last-Event-ID': seen.id },
    });
    const onlyPauses = readSse(filtered.body!);
    const types: string[] = [];
    while (types.length < 2) {
      const message = (await onlyPauses.next()).value as { data?: string };
      if (message.data) types.push((JSON.parse(message.data) as { type: string }).type);
    }
    await onlyPauses.return(undefined);
    expect(types).toStrictEqual(['tidemark.integration.paused', 'tidemark.integration.resumed']);

    const bad = await fetch(`${app.url}/events?types=not%20a%20type`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { 'invalid-params': unknown })['invalid-params']).toStrictEqual([
      {
        name: 'types',
        reason:
          'must be a comma-separated list of event types, each exact (tidemark.watermark.advanced) or ending in * (tidemark.watermark.*)',
      },
    ]);
    const unknown = await fetch(`${app.url}/events?types=tidemark.watermark.*,tidemark.wattermark.advanced,bogus`);
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { 'invalid-params': unknown })['invalid-params']).toStrictEqual([
      {
        name: 'types',
        reason: 'must name event types Tidemark emits (tidemark.wattermark.advanced, bogus match none)',
      },
    ]);
    expect(simulator.callCount()).toBeGreaterThan(0);
  });

  it('retries a delivery by hand (operate scope) and serves the OpenAPI document for the new routes', async () => {
    const page = (await (await fetch(`${app.url}/webhooks/orders-sink/deliveries?limit=1`)).json()) as {
      items: Array<{ id: string }>;
    };
    const before = receiver.received.length;
    const retried = await fetch(`${app.url}/webhooks/orders-sink/deliveries/${page.items[0].id}/retry`, {
      method: 'POST',
    });
    expect(retried.status).toBe(200);
    expect(((await retried.json()) as { status: string }).status).toBe('pending');
    await eventually(async () => receiver.received.length > before);
    expect((await fetch(`${app.url}/webhooks/orders-sink/deliveries/999999/retry`, { method: 'POST' })).status).toBe(
      404,
    );
    const doc = (await (await fetch(`${app.url}/docs-json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/events', '/webhooks/{name}/deliveries', '/webhooks/{name}/deliveries/{id}/retry']),
    );
  });
});

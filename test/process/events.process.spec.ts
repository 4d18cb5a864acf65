import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpstreamSimulator } from '../../src/demo/simulator';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { startReplica, type Replica } from '../support/replica';
import { WebhookReceiver } from '../support/webhook-receiver';

describe('events across replicas of the built service', () => {
  let simulator: UpstreamSimulator;
  let db: TestDatabase;
  const receiver = new WebhookReceiver();
  const replicas: Replica[] = [];

  beforeAll(async () => {
    simulator = new UpstreamSimulator();
    await simulator.start();
    db = await createTestDatabase('evproc');
  });

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.stop('SIGKILL')));
    await simulator?.stop();
    await receiver.stop();
    await db?.drop();
  });

  async function query<T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      return (await client.query(text, params)).rows as T[];
    } finally {
      await client.end();
    }
  }

  it('three replicas produce each event once and deliver every event to a subscription in order', async () => {
    const url = await receiver.start();
    const env = {
      DATABASE_URL: db.url,
      UPSTREAM_BASE_URL: simulator.url,
      INTEGRATIONS: JSON.stringify(
        Array.from({ length: 6 }, (_, i) => ({
          sourceSystemId: 300 + i,
          integrationName: `Feed ${i}`,
          cron: '* * * * * *',
        })),
      ),
      WEBHOOKS: JSON.stringify([
        { name: 'sink', url, secret: `whsec_${randomBytes(32).toString('base64')}`, types: ['tidemark.watermark.*'] },
      ]),
    };
    replicas.push(...(await Promise.all(['a', 'b', 'c'].map((n) => startReplica(`events-${n}`, env)))));
    await Promise.all(replicas.map((r) => r.ready(120_000)));
    await new Promise((resolve) => setTimeout(resolve, 6_000));

    const events = await query<{ id: string; run_id: string; subject: string }>(
      `SELECT id::text AS id, run_id::text AS run_id, subject FROM event e WHERE type = 'tidemark.watermark.advanced' ORDER BY e.id`,
    );
    expect(events.length).toBeGreaterThanOrEqual(12);
    // Once: in one snapshot, every succeeded run that moved the watermark has exactly one event, and no other has any.
    const runs = await query<{ id: string; moved: boolean; events: number }>(
      `SELECT r.id::text AS id, r.watermark_after IS DISTINCT FROM r.watermark_before AS moved,
              (SELECT count(*) FROM event e WHERE e.run_id = r.id)::int AS events
       FROM run r WHERE r.outcome = 'succeeded' ORDER BY r.id`,
    );
    expect(runs.length).toBeGreaterThanOrEqual(12);
    expect(runs.filter((r) => r.events !== (r.moved ? 1 : 0))).toStrictEqual([]);

    const deadline = Date.now() + 20_000;
    const received = () => new Set(receiver.received.map((r) => r.headers['webhook-id'] as string));
    while (events.some((e) => !received().has(e.id)) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(events.filter((e) => !received().has(e.id))).toStrictEqual([]);
    // In order per integration: the first arrival of each event id follows the outbox order of its integration.
    const firstArrivals: string[] = [];
    for (const r of receiver.received) {
      const id = r.headers['webhook-id'] as string;
      if (!firstArrivals.includes(id)) firstArrivals.push(id);
    }
    const subjectOf = new Map(events.map((e) => [e.id, e.subject]));
    for (const subject of new Set(events.map((e) => e.subject))) {
      const arrived = firstArrivals.filter((id) => subjectOf.get(id) === subject);
      const expected = events.filter((e) => e.subject === subject).map((e) => e.id);
      expect(arrived.slice(0, expected.length)).toStrictEqual(expected);
    }
    for (const replica of replicas) expect(replica.output()).not.toMatch(/"level":(40|50|60)/);
  }, 240_000);
});

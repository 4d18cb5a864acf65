import { AuditRepository } from '../../src/persistence/audit.repository';
import { PauseRepository } from '../../src/persistence/pause.repository';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AppConfig } from '../../src/config';
import { createDataSource, runMigrationsLocked } from '../../src/persistence/data-source';
import { STALENESS_PAGE_ROWS, StalenessDecider } from '../../src/events/staleness-decider';
import { OutboxRepository, STREAM_START } from '../../src/persistence/outbox.repository';
import { StalenessRepository } from '../../src/persistence/staleness.repository';
import { ClaimsRepository } from '../../src/persistence/claims.repository';
import { IntegrationsRepository } from '../../src/persistence/integrations.repository';
import { RunsRepository } from '../../src/persistence/runs.repository';
import type { RunCompletion, StartedRun } from '../../src/persistence/types';
import { nextFireTime } from '../../src/scheduler/cron-schedule';
import type { IntegrationStatus } from '../../src/upstream/integration-status';
import { createTestDatabase, type TestDatabase } from '../support/database';

const NO_ATTEMPTS = { attempts: [], outcomeUnknownRetried: false };

function status(name: string, utc: string, pk: string): IntegrationStatus {
  return {
    integrationName: name,
    sourceSystemId: 12,
    lastRunStartDateTime: '2026-01-31T23:59:59.9999999+00:00',
    lastRunEndDateTime: '2026-01-31T23:59:59.9999999+00:00',
    processStatusMeaning: 'Complete',
    maxSyncDateTime: utc.replace('Z', '+00:00'),
    maxSyncDateTimeUtc: utc,
    maxSyncDateMaxPkId: pk,
    sourceId: '1',
    sourceIdString: 'ERP-12',
    customDatabaseValues: [],
  };
}

const success = (s: IntegrationStatus, regressed = false): RunCompletion => ({
  outcome: 'succeeded',
  status: s,
  httpStatus: 200,
  watermarkRegressed: regressed,
  ...NO_ATTEMPTS,
});
const failure: RunCompletion = {
  outcome: 'failed',
  errorCode: 'http_status',
  error: 'HTTP 500',
  httpStatus: 500,
  ...NO_ATTEMPTS,
};

describe('event outbox on real Postgres', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let pauses: PauseRepository;
  let integrations: IntegrationsRepository;
  let runs: RunsRepository;
  let claims: ClaimsRepository;
  let outbox: OutboxRepository;
  const sql = <T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> =>
    dataSource.query(text, params);
  const events = () =>
    sql<{ type: string; subject: string; run_id: string | null; data: Record<string, unknown> }>(
      `SELECT type, subject, run_id::text AS run_id, data FROM event ORDER BY id`,
    );

  beforeAll(async () => {
    db = await createTestDatabase('outbox');
    dataSource = createDataSource({ url: db.url, poolSize: 6, connectTimeoutMs: 5_000 });
    await dataSource.initialize();
    await runMigrationsLocked(dataSource);
    const config = { events: { source: 'urn:test', failureRepeat: 3 } } as AppConfig;
    integrations = new IntegrationsRepository(dataSource);
    pauses = new PauseRepository(dataSource, new AuditRepository(dataSource), config);
    runs = new RunsRepository(dataSource, config);
    claims = new ClaimsRepository(dataSource);
    outbox = new OutboxRepository(dataSource);
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  beforeEach(async () => {
    await sql('TRUNCATE event, webhook_delivery, webhook_cursor, integration_staleness, run, integration CASCADE');
  });

  async function start(names: string[]): Promise<StartedRun[]> {
    await integrations.syncIntegrations(
      names.map((integrationName) => ({
        sourceSystemId: 12,
        integrationName,
        cron: '0 0 0 1 1 *',
        timeZone: 'UTC',
        enabled: true,
        misfirePolicy: 'fire_once_now' as const,
      })),
      nextFireTime,
    );
    const started: StartedRun[] = [];
    for (const name of names) {
      started.push(await claims.startManualRun((await integrations.findIntegration(12, name))!, 'replica-a', 30_000));
    }
    return started;
  }

  it('a run end that fails to commit emits no event; the same end committed emits exactly one', async () => {
    const [a, b] = await start(['A', 'B']);
    await sql(
      `CREATE FUNCTION fail_b() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'bad row B'; END $$`,
    );
    await sql(
      `CREATE TRIGGER fail_b BEFORE UPDATE OF max_sync_pk_id ON integration FOR EACH ROW WHEN (NEW.integration_name = 'B') EXECUTE FUNCTION fail_b()`,
    );
    const completion = success(status('A', '2026-02-01T00:00:00.0000000Z', '5'));
    try {
      await expect(runs.finishRuns([a, b].map((started) => ({ started, completion })))).rejects.toThrow('bad row B');
      await expect(runs.finishRun(b, completion)).rejects.toThrow('bad row B');
      expect(await events()).toStrictEqual([]);
    } finally {
      await sql('DROP TRIGGER fail_b ON integration');
      await sql('DROP FUNCTION fail_b()');
    }
    expect((await runs.finishRun(a, completion)).applied).toBe(true);
    expect(await events()).toStrictEqual([
      {
        type: 'tidemark.watermark.advanced',
        subject: '12/A',
        run_id: a.runId,
        data: {
          runId: a.runId,
          trigger: 'manual',
          before: null,
          after: {
            maxSyncDateTime: '2026-02-01T00:00:00.0000000+00:00',
            maxSyncDateTimeUtc: '2026-02-01T00:00:00.0000000Z',
            maxSyncDateMaxPkId: '5',
          },
        },
      },
    ]);
    // A run already finished is not applied again, and emits nothing more.
    expect((await runs.finishRuns([{ started: a, completion }]))[0].applied).toBe(false);
    expect(await events()).toHaveLength(1);
  });

  it('group commits emit advanced, regressed, nothing for an equal watermark, and run.failed at 1 and every 3rd failure', async () => {
    const later = status('A', '2026-02-02T00:00:00.0000000Z', '9');
    const earlier = status('A', '2026-02-01T00:00:00.0000000Z', '9');
    const finishOne = async (completion: RunCompletion) => {
      const [started] = await start(['A']);
      await runs.finishRuns([{ started, completion }]);
    };
    await finishOne(success(later));
    await finishOne(success(later));
    await finishOne(success(earlier, true));
    for (let i = 0; i < 7; i++) await finishOne(failure);
    const written = await events();
    expect(written.map((e) => e.type)).toStrictEqual([
      'tidemark.watermark.advanced',
      'tidemark.watermark.regressed',
      'tidemark.run.failed',
      'tidemark.run.failed',
      'tidemark.run.failed',
    ]);
    expect(written.slice(2).map((e) => e.data.consecutiveFailures)).toStrictEqual([1, 3, 6]);
    expect(written[1].data.before).toStrictEqual({
      maxSyncDateTime: '2026-02-02T00:00:00.0000000+00:00',
      maxSyncDateTimeUtc: '2026-02-02T00:00:00.0000000Z',
      maxSyncDateMaxPkId: '9',
    });
    expect(written[2].data).toMatchObject({ errorCode: 'http_status', error: 'HTTP 500', httpStatus: 500 });
  });

  it('pausing emits paused once, resuming emits resumed with the next fire time', async () => {
    await start(['A']);
    const ref = (await integrations.findIntegration(12, 'A'))!;
    const pause = { actor: 'test', reason: 'maintenance', until: null };
    await pauses.pause({ integrationId: ref.id }, pause);
    await pauses.pause({ integrationId: ref.id }, pause);
    const next = new Date('2027-01-01T00:00:00.000Z');
    await pauses.resume({ integrationId: ref.id }, 'test', () => next);
    expect((await events()).map((e) => [e.type, e.data])).toStrictEqual([
      ['tidemark.integration.paused', { paused: true }],
      ['tidemark.integration.resumed', { paused: false, nextFireAt: '2027-01-01T00:00:00.000Z' }],
    ]);
  });

  it('the stream never passes an event whose transaction is still open, and gives it once it commits', async () => {
    const open = new Client({ connectionString: db.url });
    await open.connect();
    try {
      await open.query('BEGIN');
      await open.query(
        `INSERT INTO event (type, source, subject, data) VALUES ('tidemark.integration.paused', 'urn:test', '1/late', '{}')`,
      );
      await sql(
        `INSERT INTO event (type, source, subject, data) VALUES ('tidemark.integration.paused', 'urn:test', '1/early', '{}')`,
      );
      const blocked = await outbox.readAfter(STREAM_START, 100);
      expect(blocked.events).toStrictEqual([]);
      expect(blocked.blocked).toBe(true);
      expect(await outbox.countAfter(STREAM_START, 100)).toStrictEqual({
        counts: {},
        scanned: 0,
        last: null,
        blocked: true,
      });
      await open.query('COMMIT');
      const read = await outbox.readAfter(STREAM_START, 100);
      expect(read.events.map((e) => e.subject)).toStrictEqual(['1/late', '1/early']);
      expect(read.blocked).toBe(false);
      expect(await outbox.head()).toStrictEqual({ txid: read.events[1].txid, id: read.events[1].id });
      expect(await outbox.countAfter(STREAM_START, 100)).toStrictEqual({
        counts: { 'tidemark.integration.paused': 2 },
        scanned: 2,
        last: { txid: read.events[1].txid, id: read.events[1].id },
        blocked: false,
      });
    } finally {
      await open.end();
    }
  });

  it('counts what readAfter reads, batch by batch, by type, with the position of the last event', async () => {
    await sql(
      `INSERT INTO event (type, source, subject, data)
       SELECT CASE WHEN n % 3 = 0 THEN 'tidemark.run.failed' ELSE 'tidemark.watermark.advanced' END, 'urn:test',
              '1/' || n, '{}'
       FROM generate_series(1, 7) AS n`,
    );
    let position = STREAM_START;
    const batches: Array<{ counts: Record<string, number>; scanned: number; blocked: boolean }> = [];
    for (;;) {
      const { events, blocked } = await outbox.readAfter(position, 3);
      const { counts, scanned, last, blocked: countBlocked } = await outbox.countAfter(position, 3);
      const byType: Record<string, number> = {};
      for (const event of events) byType[event.type] = (byType[event.type] ?? 0) + 1;
      expect({ counts, scanned, blocked: countBlocked }).toStrictEqual({
        counts: byType,
        scanned: events.length,
        blocked,
      });
      batches.push({ counts, scanned, blocked: countBlocked });
      if (events.length === 0) {
        expect(last).toBeNull();
        break;
      }
      expect(last).toStrictEqual({ txid: events.at(-1)!.txid, id: events.at(-1)!.id });
      position = last!;
    }
    expect(batches).toStrictEqual([
      { counts: { 'tidemark.watermark.advanced': 2, 'tidemark.run.failed': 1 }, scanned: 3, blocked: false },
      { counts: { 'tidemark.watermark.advanced': 2, 'tidemark.run.failed': 1 }, scanned: 3, blocked: false },
      { counts: { 'tidemark.watermark.advanced': 1 }, scanned: 1, blocked: false },
      { counts: {}, scanned: 0, blocked: false },
    ]);
  });

  it('deliveries of one integration are claimed one at a time in order; an exhausted one is reported once', async () => {
    const [a] = await start(['A']);
    await outbox.ensureCursors(['hook']);
    await runs.finishRun(a, success(status('A', '2026-02-01T00:00:00.0000000Z', '1')));
    const [a2] = await start(['A']);
    await runs.finishRun(a2, success(status('A', '2026-02-02T00:00:00.0000000Z', '2')));
    expect(await outbox.fanOut('hook', ['tidemark.watermark.*'], 100)).toStrictEqual({
      scanned: 2,
      created: 2,
      blocked: false,
    });
    const first = await outbox.claimDeliveries(['hook'], 'r1', 10, 60_000);
    expect(first.map((d) => [d.event.runId, d.attempts])).toStrictEqual([[a.runId, 1]]);
    expect(await outbox.claimDeliveries(['hook'], 'r2', 10, 60_000)).toStrictEqual([]);
    const exhausted = {
      type: 'tidemark.webhook.exhausted' as const,
      source: 'urn:test',
      subject: '12/A',
      integrationId: first[0].event.integrationId,
      runId: null,
      data: { deliveryId: first[0].id },
    };
    expect(
      await outbox.recordFailed(first[0], { httpStatus: 500, error: 'HTTP 500', latencyMs: 3 }, null, exhausted),
    ).toBe('exhausted');
    expect(
      await outbox.recordFailed(first[0], { httpStatus: 500, error: 'HTTP 500', latencyMs: 3 }, null, exhausted),
    ).toBe(null);
    const second = await outbox.claimDeliveries(['hook'], 'r2', 10, 60_000);
    expect(second.map((d) => d.event.runId)).toStrictEqual([a2.runId]);
    expect(await outbox.recordDelivered(second[0], 204, 2)).toBe(true);
    expect((await events()).map((e) => e.type)).toStrictEqual([
      'tidemark.watermark.advanced',
      'tidemark.watermark.advanced',
      'tidemark.webhook.exhausted',
    ]);
    const page = await outbox.listDeliveries('hook', { limit: 10 });
    expect(page.items.map((d) => [d.status, d.attempts, d.lastStatus])).toStrictEqual([
      ['delivered', 1, 204],
      ['exhausted', 1, 500],
    ]);
  });

  it('only the attempt holding a delivery records its result; the lag counts only configured webhooks', async () => {
    await sql(
      `INSERT INTO event (type, source, subject, data, time) VALUES
         ('tidemark.integration.paused', 'urn:test', '1/x', '{}', now() - interval '90 seconds'),
         ('tidemark.integration.paused', 'urn:test', '1/y', '{}', now() - interval '30 seconds')`,
    );
    await sql(
      `INSERT INTO webhook_delivery (event_id, subscription)
       SELECT id, CASE WHEN subject = '1/x' THEN 'removed' ELSE 'hook' END FROM event`,
    );
    const [late] = await outbox.claimDeliveries(['hook'], 'r1', 10, 1);
    await sql(`SELECT pg_sleep(0.01)`);
    const [current] = await outbox.claimDeliveries(['hook'], 'r2', 10, 60_000);
    expect([late.attempts, late.leaseOwner, current.attempts, current.leaseOwner]).toStrictEqual([1, 'r1', 2, 'r2']);
    expect(await outbox.recordDelivered(late, 204, 5)).toBe(false);
    expect(await outbox.recordFailed(late, { httpStatus: 500, error: 'HTTP 500', latencyMs: 5 }, 1_000, null)).toBe(
      null,
    );
    expect(await outbox.recordDelivered({ ...current, leaseOwner: 'r1' }, 204, 5)).toBe(false);
    const lag = await outbox.outboxLagSeconds(['hook']);
    expect([Math.round(lag), await outbox.outboxLagSeconds([])]).toStrictEqual([30, 0]);
    expect(Math.round(await outbox.outboxLagSeconds(['hook', 'removed']))).toBe(90);
    expect(await outbox.recordDelivered(current, 204, 7)).toBe(true);
    expect(await outbox.outboxLagSeconds(['hook'])).toBe(0);
    expect(
      await sql(
        `SELECT subscription, status, attempts, last_status, latency_ms, lease_owner FROM webhook_delivery ORDER BY id`,
      ),
    ).toStrictEqual([
      {
        subscription: 'removed',
        status: 'pending',
        attempts: 0,
        last_status: null,
        latency_ms: null,
        lease_owner: null,
      },
      { subscription: 'hook', status: 'delivered', attempts: 2, last_status: 204, latency_ms: 7, lease_owner: null },
    ]);
  });

  it('prunes events older than the retention in batches, never one with a pending delivery', async () => {
    await sql(
      `INSERT INTO event (type, source, subject, data, time)
       SELECT 'tidemark.integration.paused', 'urn:test', '1/x', '{}', now() - interval '8 days' FROM generate_series(1, 5)`,
    );
    const [kept] = await sql<{ id: string }>(`SELECT min(id)::text AS id FROM event`);
    await sql(`INSERT INTO webhook_delivery (event_id, subscription) VALUES ($1, 'hook')`, [kept.id]);
    expect(await outbox.pruneEvents(7, 3)).toBe(3);
    expect(await outbox.pruneEvents(7, 3)).toBe(1);
    expect(await sql(`SELECT id::text AS id FROM event`)).toStrictEqual([{ id: kept.id }]);
  });

  it('the staleness check reads the integrations a page at a time and flips every stale one once, in id order', async () => {
    const count = 2 * STALENESS_PAGE_ROWS + 3;
    const names = Array.from({ length: count }, (_, i) => `S${String(i).padStart(4, '0')}`);
    await integrations.syncIntegrations(
      names.map((integrationName) => ({
        sourceSystemId: 12,
        integrationName,
        cron: '0 0 0 1 1 *',
        timeZone: 'UTC',
        enabled: true,
        misfirePolicy: 'fire_once_now' as const,
      })),
      nextFireTime,
    );
    await sql(`UPDATE integration SET created_at = now() - interval '1 hour'`);
    const stored = await sql<{ id: string; name: string }>(
      `SELECT i.id::text AS id, i.integration_name AS name FROM integration i ORDER BY i.id`,
    );
    const ids = stored.map((r) => r.id);
    expect([...stored.map((r) => r.name)].sort()).toStrictEqual(names);
    const staleness = new StalenessRepository(dataSource);
    const firstPage = await staleness.stalenessRows('0', STALENESS_PAGE_ROWS);
    expect(firstPage.map((row) => row.id)).toStrictEqual(ids.slice(0, STALENESS_PAGE_ROWS));
    const lastPage = await staleness.stalenessRows(ids[2 * STALENESS_PAGE_ROWS - 1], STALENESS_PAGE_ROWS);
    expect(lastPage.map((row) => row.id)).toStrictEqual(ids.slice(2 * STALENESS_PAGE_ROWS));
    const config = { observability: { staleAfterMs: 60_000 }, events: { source: 'urn:test' } } as AppConfig;
    const decider = new StalenessDecider(staleness, config);
    await decider.check();
    await decider.check();
    const emitted = await events();
    expect(emitted.map((e) => [e.type, e.subject])).toStrictEqual(
      stored.map((r) => ['tidemark.integration.stale', `12/${r.name}`]),
    );
    expect(emitted[0].data).toStrictEqual({ lastSucceededAt: null, staleForSeconds: 3600, staleAfterMs: 60_000 });
  });
});

import { describe, expect, it } from 'vitest';
import { Client } from 'pg';
import type { ClaimsRepository } from '../../src/persistence/claims.repository';
import type { IntegrationsRepository } from '../../src/persistence/integrations.repository';
import type { PauseRepository } from '../../src/persistence/pause.repository';
import type { RunsRepository } from '../../src/persistence/runs.repository';
import { STATE_CHANNEL } from '../../src/persistence/state-notifications';
import type { StartedRun } from '../../src/persistence/types';
import { nextFireTime } from '../../src/scheduler/cron-schedule';
import type { TestDatabase } from '../support/database';
import { INT64_STATUS, NO_ATTEMPTS, claimOptions, config, useStateRepository } from './state.repository.fixture';

// Finishing one run (the watermark stored exactly), the state notifications, and reading and pruning runs.

describe('StateRepository on real Postgres', () => {
  let db: TestDatabase;
  let integrationsRepo: IntegrationsRepository;
  let runsRepo: RunsRepository;
  let claimsRepo: ClaimsRepository;
  let pauseRepo: PauseRepository;

  const { sql, makeDue } = useStateRepository(
    (fixture) => ({ db, integrationsRepo, runsRepo, claimsRepo, pauseRepo } = fixture),
  );

  describe('finishRun', () => {
    async function startOne(): Promise<StartedRun> {
      await integrationsRepo.syncIntegrations([config(12, 'Invoices')], nextFireTime);
      const integration = (await integrationsRepo.findIntegration(12, 'Invoices'))!;
      return claimsRepo.startManualRun(integration, 'replica-a', 30_000);
    }

    it('stores the watermark exactly: text, floored µs instant, bigint id; and releases the lease', async () => {
      const started = await startOne();
      const { applied, finished } = await runsRepo.finishRun(started, {
        outcome: 'succeeded',
        status: INT64_STATUS,
        httpStatus: 200,
        ...NO_ATTEMPTS,
        watermarkRegressed: false,
      });
      expect(applied).toBe(true);
      expect(finished).toMatchObject({
        id: started.runId,
        outcome: 'succeeded',
        httpStatus: 200,
        watermarkBefore: null,
        watermarkAfter: {
          maxSyncDateTime: '2026-01-31T17:59:59.9999999-06:00',
          maxSyncDateTimeUtc: '2026-01-31T23:59:59.9999999Z',
          maxSyncDateMaxPkId: '9007199254740993',
        },
      });
      const [row] = await sql(
        `SELECT max_sync_date_time, max_sync_date_time_utc, to_char(max_sync_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS at,
                max_sync_pk_id::text AS pk, lease_owner, consecutive_failures, last_succeeded_at IS NOT NULL AS succeeded
         FROM integration`,
      );
      expect(row).toStrictEqual({
        max_sync_date_time: '2026-01-31T17:59:59.9999999-06:00',
        max_sync_date_time_utc: '2026-01-31T23:59:59.9999999Z',
        at: '2026-01-31T23:59:59.999999', // floored: Postgres alone would round .9999999 up to the next second
        pk: '9007199254740993',
        lease_owner: null,
        consecutive_failures: 0,
        succeeded: true,
      });
      const state = (await integrationsRepo.findIntegration(12, 'Invoices'))!;
      expect(state.lastStatus).toStrictEqual(INT64_STATUS);
      expect(state.lastRun?.id).toBe(started.runId);
    });

    it('a failed run never touches the watermark and counts consecutive failures', async () => {
      const first = await startOne();
      await runsRepo.finishRun(first, {
        outcome: 'succeeded',
        status: INT64_STATUS,
        httpStatus: 200,
        ...NO_ATTEMPTS,
        watermarkRegressed: false,
      });
      const integration = (await integrationsRepo.findIntegration(12, 'Invoices'))!;
      for (let i = 0; i < 2; i++) {
        const run = await claimsRepo.startManualRun(integration, 'replica-a', 30_000);
        expect(run.watermarkBefore).toStrictEqual({
          maxSyncDateTime: '2026-01-31T17:59:59.9999999-06:00',
          maxSyncDateTimeUtc: '2026-01-31T23:59:59.9999999Z',
          maxSyncDateMaxPkId: '9007199254740993',
        });
        const { finished } = await runsRepo.finishRun(run, {
          outcome: 'failed',
          errorCode: 'http_status',
          error: 'upstream answered 500',
          httpStatus: 500,
          ...NO_ATTEMPTS,
        });
        expect(finished).toMatchObject({
          outcome: 'failed',
          errorCode: 'http_status',
          error: 'upstream answered 500',
          httpStatus: 500,
          watermarkAfter: null,
        });
      }
      const state = (await integrationsRepo.findIntegration(12, 'Invoices'))!;
      expect(state.lastStatus).toStrictEqual(INT64_STATUS);
      expect(state.consecutiveFailures).toBe(2);
      const [row] = await sql(`SELECT max_sync_pk_id::text AS pk, max_sync_date_time FROM integration`);
      expect(row).toStrictEqual({ pk: '9007199254740993', max_sync_date_time: '2026-01-31T17:59:59.9999999-06:00' });
    });

    it('writes nothing when the state update fails: the run stays running and the watermark as it was', async () => {
      const started = await startOne();
      await sql(
        `CREATE FUNCTION fail_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$`,
      );
      await sql(
        `CREATE TRIGGER fail_watermark BEFORE UPDATE OF max_sync_pk_id ON integration FOR EACH ROW EXECUTE FUNCTION fail_update()`,
      );
      try {
        await expect(
          runsRepo.finishRun(started, {
            outcome: 'succeeded',
            status: INT64_STATUS,
            httpStatus: 200,
            ...NO_ATTEMPTS,
            watermarkRegressed: false,
          }),
        ).rejects.toThrow('disk full');
      } finally {
        await sql('DROP TRIGGER fail_watermark ON integration');
        await sql('DROP FUNCTION fail_update()');
      }
      const [run] = await sql(`SELECT outcome, finished_at, watermark_after FROM run`);
      expect(run).toStrictEqual({ outcome: 'running', finished_at: null, watermark_after: null });
      const [row] = await sql(`SELECT max_sync_pk_id, last_status, lease_run_id::text AS lease FROM integration`);
      expect(row).toStrictEqual({ max_sync_pk_id: null, last_status: null, lease: started.runId });
    });

    it('keeps every attempt and the retry and regression flags of a run', async () => {
      const started = await startOne();
      const attempts = [
        {
          attempt: 1,
          startedAt: '2026-11-29T10:00:00.000Z',
          durationMs: 5000,
          httpStatus: null,
          errorCode: 'timeout',
          error: 'no answer within 5000 ms',
        },
        {
          attempt: 2,
          startedAt: '2026-11-29T10:00:05.500Z',
          durationMs: 12,
          httpStatus: 200,
          errorCode: null,
          error: null,
        },
      ];
      const { finished } = await runsRepo.finishRun(started, {
        outcome: 'succeeded',
        status: INT64_STATUS,
        httpStatus: 200,
        attempts,
        outcomeUnknownRetried: true,
        watermarkRegressed: true,
      });
      expect([finished?.attempts, finished?.outcomeUnknownRetried, finished?.watermarkRegressed]).toStrictEqual([
        attempts,
        true,
        true,
      ]);
      expect((await runsRepo.findRun(started.runId))?.attempts).toStrictEqual(attempts);
    });

    it('refuses to finish a run that was already marked abandoned', async () => {
      const started = await startOne();
      await sql(`UPDATE integration SET lease_expires_at = now() - interval '1 second'`);
      const reaped = await claimsRepo.reapExpiredLeases();
      expect(reaped.map((r) => [r.runId, r.replicaId])).toStrictEqual([[started.runId, 'replica-a']]);
      const result = await runsRepo.finishRun(started, {
        outcome: 'succeeded',
        status: INT64_STATUS,
        httpStatus: 200,
        ...NO_ATTEMPTS,
        watermarkRegressed: false,
      });
      expect(result).toStrictEqual({ applied: false, finished: null });
      const [run] = await sql(`SELECT outcome, error_code FROM run`);
      expect(run).toStrictEqual({ outcome: 'abandoned', error_code: 'lease_expired' });
      expect((await integrationsRepo.findIntegration(12, 'Invoices'))!.lastStatus).toBeNull();
    });
  });

  describe('state notifications', () => {
    it('every state change notifies its integration ids on commit, and nothing on rollback', async () => {
      const listener = new Client({ connectionString: db.url });
      await listener.connect();
      const payloads: string[] = [];
      listener.on('notification', (n) => payloads.push(n.payload ?? ''));
      await listener.query(`LISTEN ${STATE_CHANNEL}`);
      const next = async (): Promise<string> => {
        for (let i = 0; i < 100 && payloads.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
        await listener.query('SELECT 1');
        return payloads.splice(0).join('|');
      };
      try {
        await integrationsRepo.syncIntegrations([config(1, 'Orders', { cron: '* * * * * *' })], nextFireTime);
        expect(await next()).toBe('*');
        const integration = (await integrationsRepo.findIntegration(1, 'Orders'))!;
        await makeDue('Orders');
        const claim = await claimsRepo.claimDue(claimOptions('replica-a'));
        expect(await next()).toBe(integration.id);
        await runsRepo.finishRuns([
          {
            started: claim.started[0],
            completion: { outcome: 'failed', errorCode: 'x', error: 'x', httpStatus: null, ...NO_ATTEMPTS },
          },
        ]);
        expect(await next()).toBe(integration.id);
        const manual = await claimsRepo.startManualRun(integration, 'replica-a', 30_000);
        expect(await next()).toBe(integration.id);
        await runsRepo.finishRun(manual, {
          outcome: 'failed',
          errorCode: 'x',
          error: 'x',
          httpStatus: null,
          ...NO_ATTEMPTS,
        });
        expect(await next()).toBe(integration.id);
        await pauseRepo.pause({ integrationId: integration.id }, { actor: 'ops', reason: 'maintenance', until: null });
        expect(await next()).toBe(integration.id);
        // A failed finish sends nothing: NOTIFY is transactional.
        await sql(
          `CREATE FUNCTION fail_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$`,
        );
        await sql(`CREATE TRIGGER fail_all BEFORE UPDATE ON run FOR EACH ROW EXECUTE FUNCTION fail_update()`);
        const doomed = await claimsRepo.startManualRun(integration, 'replica-a', 30_000);
        expect(await next()).toBe(integration.id);
        await expect(
          runsRepo.finishRun(doomed, {
            outcome: 'failed',
            errorCode: 'x',
            error: 'x',
            httpStatus: null,
            ...NO_ATTEMPTS,
          }),
        ).rejects.toThrow('disk full');
        await sql('DROP TRIGGER fail_all ON run');
        await sql('DROP FUNCTION fail_update()');
        expect(await next()).toBe('');
      } finally {
        await listener.end();
      }
    });

    it('msUntilNextDue reports the earliest fire time of enabled, unpaused integrations', async () => {
      expect(await claimsRepo.msUntilNextDue()).toBeNull();
      await integrationsRepo.syncIntegrations([config(1, 'Orders'), config(1, 'Invoices')], nextFireTime);
      await sql(`UPDATE integration SET next_fire_at = now() + interval '5 seconds' WHERE integration_name = 'Orders'`);
      await sql(
        `UPDATE integration SET next_fire_at = now() + interval '2 seconds', paused = true WHERE integration_name = 'Invoices'`,
      );
      const ms = (await claimsRepo.msUntilNextDue())!;
      expect(ms).toBeGreaterThan(4_000);
      expect(ms).toBeLessThanOrEqual(5_000);
    });
  });

  describe('reads and retention', () => {
    it('pages integrations by (sourceSystemId, byte order of name)', async () => {
      const names = ['b', 'B', 'a', 'Ärger', 'z/y', 'a b'];
      await integrationsRepo.syncIntegrations([...names.map((n) => config(2, n)), config(1, 'zz')], nextFireTime);
      const seen: string[] = [];
      let after: { sourceSystemId: number; integrationName: string } | undefined;
      for (;;) {
        const page = await integrationsRepo.listIntegrations({ limit: 3, after });
        seen.push(...page.items.map((i) => `${i.sourceSystemId}:${i.integrationName}`));
        if (!page.hasMore) break;
        after = page.items.at(-1)!;
      }
      expect(seen).toStrictEqual(['1:zz', '2:B', '2:a', '2:a b', '2:b', '2:z/y', '2:Ärger']);
      const filtered = await integrationsRepo.listIntegrations({ limit: 10, sourceSystemId: 1 });
      expect(filtered.items.map((i) => i.integrationName)).toStrictEqual(['zz']);
    });

    it('pages runs newest first', async () => {
      await integrationsRepo.syncIntegrations([config(1, 'Orders')], nextFireTime);
      const integration = (await integrationsRepo.findIntegration(1, 'Orders'))!;
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const run = await claimsRepo.startManualRun(integration, 'r', 30_000);
        await runsRepo.finishRun(run, {
          outcome: 'failed',
          errorCode: 'x',
          error: 'x',
          httpStatus: null,
          ...NO_ATTEMPTS,
        });
        ids.push(run.runId);
      }
      const first = await runsRepo.listRuns(integration.id, { limit: 2 });
      expect([first.items.map((r) => r.id), first.hasMore]).toStrictEqual([[ids[4], ids[3]], true]);
      const last = await runsRepo.listRuns(integration.id, { limit: 10, beforeId: ids[1] });
      expect([last.items.map((r) => r.id), last.hasMore]).toStrictEqual([[ids[0]], false]);
    });

    it('prunes old finished runs in batches but keeps each integration last run', async () => {
      await integrationsRepo.syncIntegrations([config(1, 'Orders')], nextFireTime);
      const integration = (await integrationsRepo.findIntegration(1, 'Orders'))!;
      for (let i = 0; i < 5; i++) {
        const run = await claimsRepo.startManualRun(integration, 'r', 30_000);
        await runsRepo.finishRun(run, {
          outcome: 'failed',
          errorCode: 'x',
          error: 'x',
          httpStatus: null,
          ...NO_ATTEMPTS,
        });
      }
      await sql(`UPDATE run SET started_at = now() - interval '40 days'`);
      expect(await runsRepo.pruneRunHistory(30, 3)).toBe(3);
      expect(await runsRepo.pruneRunHistory(30, 3)).toBe(1);
      expect(await runsRepo.pruneRunHistory(30, 3)).toBe(0);
      const left = await sql<{ id: string }>(`SELECT id::text FROM run`);
      expect(left.map((r) => r.id)).toStrictEqual([(await integrationsRepo.findIntegration(1, 'Orders'))!.lastRun!.id]);
    });
  });
});

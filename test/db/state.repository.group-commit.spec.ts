import { describe, expect, it } from 'vitest';
import type { ClaimsRepository } from '../../src/persistence/claims.repository';
import type { IntegrationsRepository } from '../../src/persistence/integrations.repository';
import type { RunsRepository } from '../../src/persistence/runs.repository';
import { FinishBatcher } from '../../src/runs/finish-batcher';
import { isTransientDatabaseError } from '../../src/runs/run.service';
import type { StartedRun } from '../../src/persistence/types';
import { nextFireTime } from '../../src/scheduler/cron-schedule';
import { INT64_STATUS, NO_ATTEMPTS, claimOptions, config, useStateRepository } from './state.repository.fixture';

// finishRuns: several runs finished in one transaction, and the FinishBatcher that gathers them.

describe('StateRepository on real Postgres', () => {
  let integrationsRepo: IntegrationsRepository;
  let runsRepo: RunsRepository;
  let claimsRepo: ClaimsRepository;

  const { sql, makeDue } = useStateRepository((fixture) => ({ integrationsRepo, runsRepo, claimsRepo } = fixture));

  describe('finishRuns (group commit)', () => {
    const succeeded = {
      outcome: 'succeeded' as const,
      status: INT64_STATUS,
      httpStatus: 200,
      ...NO_ATTEMPTS,
      watermarkRegressed: false,
    };
    const failed = {
      outcome: 'failed' as const,
      errorCode: 'http_status',
      error: 'upstream answered 500',
      httpStatus: 500,
      ...NO_ATTEMPTS,
    };

    async function startMany(names: string[]): Promise<StartedRun[]> {
      await integrationsRepo.syncIntegrations(
        names.map((n) => config(12, n)),
        nextFireTime,
      );
      const started: StartedRun[] = [];
      for (const name of names)
        started.push(
          await claimsRepo.startManualRun((await integrationsRepo.findIntegration(12, name))!, 'replica-a', 30_000),
        );
      return started;
    }

    it('finishes several runs in one transaction exactly as finishRun does one by one', async () => {
      const [a, b, c] = await startMany(['A', 'B', 'C']);
      const results = await runsRepo.finishRuns([
        { started: a, completion: succeeded },
        { started: b, completion: failed },
        { started: c, completion: { ...succeeded, watermarkRegressed: true, outcomeUnknownRetried: true } },
      ]);
      expect(results.map((r) => [r.applied, r.finished?.id, r.finished?.outcome])).toStrictEqual([
        [true, a.runId, 'succeeded'],
        [true, b.runId, 'failed'],
        [true, c.runId, 'succeeded'],
      ]);
      expect(results[0].finished?.watermarkAfter).toStrictEqual({
        maxSyncDateTime: '2026-01-31T17:59:59.9999999-06:00',
        maxSyncDateTimeUtc: '2026-01-31T23:59:59.9999999Z',
        maxSyncDateMaxPkId: '9007199254740993',
      });
      expect([results[2].finished?.watermarkRegressed, results[2].finished?.outcomeUnknownRetried]).toStrictEqual([
        true,
        true,
      ]);
      const rows = await sql(
        `SELECT integration_name AS name, max_sync_pk_id::text AS pk, to_char(max_sync_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS at,
                consecutive_failures AS failures, lease_owner, last_run_id::text AS last_run, last_succeeded_at IS NOT NULL AS ok
         FROM integration ORDER BY integration_name`,
      );
      expect(rows).toStrictEqual([
        {
          name: 'A',
          pk: '9007199254740993',
          at: '2026-01-31T23:59:59.999999',
          failures: 0,
          lease_owner: null,
          last_run: a.runId,
          ok: true,
        },
        { name: 'B', pk: null, at: null, failures: 1, lease_owner: null, last_run: b.runId, ok: false },
        {
          name: 'C',
          pk: '9007199254740993',
          at: '2026-01-31T23:59:59.999999',
          failures: 0,
          lease_owner: null,
          last_run: c.runId,
          ok: true,
        },
      ]);
      expect((await integrationsRepo.findIntegration(12, 'A'))!.lastStatus).toStrictEqual(INT64_STATUS);
    });

    it('answers each run as it then reads from the database, without reading the written columns back', async () => {
      await integrationsRepo.syncIntegrations(
        [config(12, 'Sched', { cron: '* * * * * *' }), config(12, 'M')],
        nextFireTime,
      );
      await makeDue('Sched');
      const [scheduled] = (await claimsRepo.claimDue(claimOptions('replica-s'))).started;
      const manual = await claimsRepo.startManualRun(
        (await integrationsRepo.findIntegration(12, 'M'))!,
        'replica-m',
        30_000,
      );
      const attempts = [
        {
          attempt: 1,
          startedAt: '2026-11-29T10:00:00.125Z',
          durationMs: 12.3,
          httpStatus: 503,
          errorCode: 'http_status',
          error: 'upstream answered 503',
          retryAfterMs: 250,
        },
        {
          attempt: 2,
          startedAt: '2026-11-29T10:00:00.400Z',
          durationMs: 7.5,
          httpStatus: 200,
          errorCode: null,
          error: null,
        },
      ];
      const results = await runsRepo.finishRuns([
        {
          started: scheduled,
          completion: { ...succeeded, attempts, outcomeUnknownRetried: true, watermarkRegressed: true },
        },
        { started: manual, completion: { ...failed, attempts: [attempts[0]] } },
      ]);
      expect(results.map((r) => r.applied)).toStrictEqual([true, true]);
      expect(results[0].finished).toStrictEqual(await runsRepo.findRun(scheduled.runId));
      expect(results[1].finished).toStrictEqual(await runsRepo.findRun(manual.runId));
      expect([
        results[0].finished!.trigger,
        results[0].finished!.replicaId,
        results[1].finished!.trigger,
        results[1].finished!.errorCode,
      ]).toStrictEqual(['schedule', 'replica-s', 'manual', 'http_status']);
    });

    it('writes texts that hold its literal quoting (dollar tags, quotes, backslashes) exactly', async () => {
      const [a, b] = await startMany(['A', 'B']);
      const tricky = `it's $tm$ not '' the end \\ $tm1$ "quoted" \u0001 $$ ; COMMIT; --`;
      const results = await runsRepo.finishRuns([
        { started: a, completion: { ...failed, error: tricky, errorCode: '$tm$' } },
        { started: b, completion: { ...failed, error: 'plain' } },
      ]);
      expect(results.map((r) => r.applied)).toStrictEqual([true, true]);
      const [run] = await sql<{ error: string; error_code: string }>(
        `SELECT error, error_code FROM run WHERE id = $1`,
        [a.runId],
      );
      expect(run).toStrictEqual({ error: tricky, error_code: '$tm$' });
    });

    it('stores a lone surrogate in an error text as U+FFFD, as a UTF-8 text parameter does', async () => {
      const [a] = await startMany(['A']);
      const interrupted = {
        ...failed,
        outcome: 'interrupted' as const,
        error: 'half \ud800 a pair',
        errorCode: 'x\udc00',
      };
      const [result] = await runsRepo.finishRuns([{ started: a, completion: interrupted }]);
      expect(result.applied).toBe(true);
      const [run] = await sql<{ error: string; error_code: string }>(
        `SELECT error, error_code FROM run WHERE id = $1`,
        [a.runId],
      );
      expect(run).toStrictEqual({ error: 'half \ufffd a pair', error_code: 'x\ufffd' });
    });

    it('leaves a run already marked abandoned alone and still finishes the others', async () => {
      const [a, b] = await startMany(['A', 'B']);
      await sql(`UPDATE integration SET lease_expires_at = now() - interval '1 second' WHERE integration_name = 'A'`);
      expect((await claimsRepo.reapExpiredLeases()).map((r) => r.runId)).toStrictEqual([a.runId]);
      const results = await runsRepo.finishRuns([
        { started: a, completion: succeeded },
        { started: b, completion: succeeded },
      ]);
      expect(results.map((r) => r.applied)).toStrictEqual([false, true]);
      expect((await integrationsRepo.findIntegration(12, 'A'))!.lastStatus).toBeNull();
      expect((await integrationsRepo.findIntegration(12, 'B'))!.lastStatus).toStrictEqual(INT64_STATUS);
    });

    it('refuses two runs of one integration in a batch', async () => {
      const [a] = await startMany(['A']);
      await expect(
        runsRepo.finishRuns([
          { started: a, completion: succeeded },
          { started: a, completion: failed },
        ]),
      ).rejects.toThrow(/one run per integration/);
    });

    it('a batch that fails writes nothing; the batcher then writes each run alone, so one bad run loses no other', async () => {
      const [a, b, c] = await startMany(['A', 'B', 'C']);
      await sql(
        `CREATE FUNCTION fail_b() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'bad row B'; END $$`,
      );
      await sql(
        `CREATE TRIGGER fail_b BEFORE UPDATE OF max_sync_pk_id ON integration FOR EACH ROW WHEN (NEW.integration_name = 'B') EXECUTE FUNCTION fail_b()`,
      );
      try {
        await expect(
          runsRepo.finishRuns([a, b, c].map((started) => ({ started, completion: succeeded }))),
        ).rejects.toThrow('bad row B');
        const runs = await sql<{ outcome: string }>(`SELECT outcome FROM run ORDER BY id`);
        expect(runs.map((r) => r.outcome)).toStrictEqual(['running', 'running', 'running']);

        const batcher = new FinishBatcher(runsRepo, isTransientDatabaseError);
        const settled = await Promise.allSettled([a, b, c].map((started) => batcher.finish(started, succeeded)));
        expect(settled.map((s) => s.status)).toStrictEqual(['fulfilled', 'rejected', 'fulfilled']);
        expect(String((settled[1] as PromiseRejectedResult).reason)).toMatch('bad row B');
      } finally {
        await sql('DROP TRIGGER fail_b ON integration');
        await sql('DROP FUNCTION fail_b()');
      }
      const rows = await sql(
        `SELECT i.integration_name AS name, r.outcome FROM run r JOIN integration i ON i.id = r.integration_id ORDER BY name`,
      );
      expect(rows).toStrictEqual([
        { name: 'A', outcome: 'succeeded' },
        { name: 'B', outcome: 'running' },
        { name: 'C', outcome: 'succeeded' },
      ]);
    });

    it('the batcher finishes runs that end together in one transaction', async () => {
      const started = await startMany(['A', 'B', 'C', 'D']);
      const calls: number[] = [];
      const counting = {
        finishRun: (s: StartedRun, c: Parameters<RunsRepository['finishRun']>[1]) => {
          calls.push(1);
          return runsRepo.finishRun(s, c);
        },
        finishRuns: (items: Parameters<RunsRepository['finishRuns']>[0]) => {
          calls.push(items.length);
          return runsRepo.finishRuns(items);
        },
      };
      const batcher = new FinishBatcher(counting, isTransientDatabaseError);
      const results = await Promise.all(started.map((s) => batcher.finish(s, succeeded)));
      expect(results.every((r) => r.applied)).toBe(true);
      expect(calls).toStrictEqual([4]);
    });

    it('the batcher lets a run end wait up to gatherMs for others to join its batch, and starts at once when batchTarget have queued', async () => {
      const started = await startMany(['A', 'B', 'C', 'D', 'E']);
      const writes: Array<{ size: number; afterMs: number }> = [];
      let t0 = performance.now();
      const counting = {
        finishRun: () => Promise.reject(new Error('not expected: no batch fails here')),
        finishRuns: (items: Parameters<RunsRepository['finishRuns']>[0]) => {
          writes.push({ size: items.length, afterMs: performance.now() - t0 });
          return runsRepo.finishRuns(items);
        },
      };
      const batcher = new FinishBatcher(counting, isTransientDatabaseError, 256, 2, 300, 3);
      const first = batcher.finish(started[0], succeeded);
      await new Promise((resolve) => setTimeout(resolve, 50));
      await Promise.all([first, batcher.finish(started[1], succeeded)]);
      t0 = performance.now();
      await Promise.all(started.slice(2).map((s) => batcher.finish(s, succeeded)));
      expect(writes.map((w) => w.size)).toStrictEqual([2, 3]);
      // The first two waited out the gathering time; the next three were a full batch, written at once.
      expect(writes[0].afterMs).toBeGreaterThanOrEqual(295);
      expect(writes[1].afterMs).toBeLessThan(150);
    });

    it('the batcher writes up to maxConcurrent batches at once, each an integration at most once, and commits every run', async () => {
      const names = Array.from({ length: 12 }, (_, i) => `R${String(i).padStart(2, '0')}`);
      const started = await startMany(names);
      let writing = 0;
      let mostAtOnce = 0;
      const sizes: number[] = [];
      const counting = {
        finishRun: (s: StartedRun, c: Parameters<RunsRepository['finishRun']>[1]) =>
          counting.finishRuns([{ started: s, completion: c }]).then((r) => r[0]),
        finishRuns: async (items: Parameters<RunsRepository['finishRuns']>[0]) => {
          writing += 1;
          mostAtOnce = Math.max(mostAtOnce, writing);
          sizes.push(items.length);
          try {
            // Holds the transaction open a little, so that later runs find the writers busy.
            await new Promise((resolve) => setTimeout(resolve, 30));
            return await runsRepo.finishRuns(items);
          } finally {
            writing -= 1;
          }
        },
      };
      const batcher = new FinishBatcher(counting, isTransientDatabaseError, 4, 2);
      const results: Array<Promise<unknown>> = [];
      // Three runs end in each of four turns of the event loop.
      for (let turn = 0; turn < 4; turn++) {
        for (const s of started.slice(turn * 3, turn * 3 + 3)) results.push(batcher.finish(s, succeeded));
        await new Promise((resolve) => setImmediate(resolve));
        await new Promise((resolve) => setImmediate(resolve));
      }
      const settled = (await Promise.all(results)) as Array<{ applied: boolean }>;
      expect(settled.map((r) => r.applied)).toStrictEqual(Array(12).fill(true));
      expect(mostAtOnce).toBe(2);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(12);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(4);
      const rows = await sql<{ n: number }>(`SELECT count(*)::int AS n FROM run WHERE outcome = 'succeeded'`);
      expect(rows).toStrictEqual([{ n: 12 }]);
    });

    it('the batcher never writes two ends of one integration in concurrent batches: the later waits for the earlier', async () => {
      const [a] = await startMany(['A']);
      const order: string[] = [];
      const counting = {
        finishRun: () => Promise.reject(new Error('not expected: no batch fails here')),
        finishRuns: async (items: Parameters<RunsRepository['finishRuns']>[0]) => {
          const outcomes = items.map((item) => item.completion.outcome).join('+');
          order.push(`start ${outcomes}`);
          try {
            // Holds the write open a little, so that a second batch started alongside it would show as overlapping.
            await new Promise((resolve) => setTimeout(resolve, 20));
            return await runsRepo.finishRuns(items);
          } finally {
            order.push(`end ${outcomes}`);
          }
        },
      };
      const batcher = new FinishBatcher(counting, isTransientDatabaseError, 4, 3);
      const results = await Promise.all([batcher.finish(a, succeeded), batcher.finish(a, failed)]);
      expect(order).toStrictEqual(['start succeeded', 'end succeeded', 'start failed', 'end failed']);
      // The first end committed; the second found the run no longer running and changed nothing.
      expect(results.map((r) => [r.applied, r.finished?.id ?? null, r.finished?.outcome ?? null])).toStrictEqual([
        [true, a.runId, 'succeeded'],
        [false, null, null],
      ]);
      const runs = await sql(`SELECT id::text AS id, outcome, error_code FROM run`);
      expect(runs).toStrictEqual([{ id: a.runId, outcome: 'succeeded', error_code: null }]);
      const integrations = await sql(
        `SELECT max_sync_pk_id::text AS pk, consecutive_failures AS failures, lease_owner, last_run_id::text AS last_run,
                last_succeeded_at IS NOT NULL AS ok
         FROM integration`,
      );
      expect(integrations).toStrictEqual([
        { pk: '9007199254740993', failures: 0, lease_owner: null, last_run: a.runId, ok: true },
      ]);
    });
  });
});

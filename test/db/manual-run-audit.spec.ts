import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DataSource } from 'typeorm';
import { AuditRepository } from '../../src/persistence/audit.repository';
import { ClaimsRepository } from '../../src/persistence/claims.repository';
import { createDataSource, runMigrationsLocked } from '../../src/persistence/data-source';
import { IntegrationsRepository } from '../../src/persistence/integrations.repository';
import { PauseRepository } from '../../src/persistence/pause.repository';
import { RunsRepository } from '../../src/persistence/runs.repository';
import type { IntegrationRecord, RunCompletion } from '../../src/persistence/types';
import { IntegrationControlService } from '../../src/runs/integration-control.service';
import type { RunResult, RunService } from '../../src/runs/run.service';
import { nextFireTime } from '../../src/scheduler/cron-schedule';
import type { IntegrationStatus } from '../../src/upstream/integration-status';
import { createTestDatabase, type TestDatabase } from '../support/database';

const NO_ATTEMPTS = { attempts: [], outcomeUnknownRetried: false };
const STATUS: IntegrationStatus = {
  integrationName: 'Orders',
  sourceSystemId: 4,
  lastRunStartDateTime: '2026-01-31T23:59:59.9999999+00:00',
  lastRunEndDateTime: '2026-01-31T23:59:59.9999999+00:00',
  processStatusMeaning: 'Complete',
  maxSyncDateTime: '2026-01-31T17:59:59.9999999-06:00',
  maxSyncDateTimeUtc: '2026-01-31T23:59:59.9999999Z',
  maxSyncDateMaxPkId: '9007199254740993',
  sourceId: '1',
  sourceIdString: 'ERP-4',
  customDatabaseValues: null,
};
const WATERMARK = {
  maxSyncDateTime: '2026-01-31T17:59:59.9999999-06:00',
  maxSyncDateTimeUtc: '2026-01-31T23:59:59.9999999Z',
  maxSyncDateMaxPkId: '9007199254740993',
};
const won: RunCompletion = {
  outcome: 'succeeded',
  status: STATUS,
  httpStatus: 200,
  watermarkRegressed: false,
  ...NO_ATTEMPTS,
};
const lost: RunCompletion = {
  outcome: 'failed',
  errorCode: 'http_status',
  error: 'HTTP 500',
  httpStatus: 500,
  ...NO_ATTEMPTS,
};

describe('a manual run and its audit entry, on real Postgres', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let integrations: IntegrationsRepository;
  let claims: ClaimsRepository;
  let runs: RunsRepository;
  let audit: AuditRepository;
  let orders: IntegrationRecord;

  const auditRows = () =>
    dataSource.query(`SELECT actor, action, integration_name, reason, before, after FROM audit ORDER BY id`);

  /** What a replica reaping an expired lease does: the run is abandoned and the lease let go. */
  const abandon = async (runId: string) => {
    await dataSource.query(`UPDATE run SET outcome = 'abandoned', finished_at = now() WHERE id = $1`, [runId]);
    await dataSource.query(`UPDATE integration SET lease_owner = NULL, lease_run_id = NULL, lease_expires_at = NULL`);
  };

  beforeAll(async () => {
    db = await createTestDatabase('manual_audit');
    dataSource = createDataSource({ url: db.url, poolSize: 4, connectTimeoutMs: 5_000 });
    await dataSource.initialize();
    await runMigrationsLocked(dataSource);
    integrations = new IntegrationsRepository(dataSource);
    claims = new ClaimsRepository(dataSource);
    runs = new RunsRepository(dataSource);
    audit = new AuditRepository(dataSource);
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  beforeEach(async () => {
    await dataSource.query('TRUNCATE audit, run, integration CASCADE');
    await integrations.syncIntegrations(
      [
        {
          sourceSystemId: 4,
          integrationName: 'Orders',
          cron: '0 0 0 1 1 *',
          timeZone: 'UTC',
          enabled: true,
          misfirePolicy: 'skip',
        },
      ],
      nextFireTime,
    );
    orders = (await integrations.findIntegration(4, 'Orders'))!;
  });

  it('writes the entry in the statement that records the end: who, and the watermark before and after', async () => {
    const first = await claims.startManualRun(orders, 'r1', 30_000, 'ops-jane');
    expect(first.requestedBy).toBe('ops-jane');
    expect((await runs.finishRun(first, won)).applied).toBe(true);
    const second = await claims.startManualRun(orders, 'r1', 30_000, 'ops-raj');
    expect((await runs.finishRun(second, lost)).applied).toBe(true);
    expect(await auditRows()).toStrictEqual([
      {
        actor: 'ops-jane',
        action: 'run',
        integration_name: 'Orders',
        reason: null,
        before: { watermark: null },
        after: { runId: first.runId, outcome: 'succeeded', errorCode: null, watermark: WATERMARK },
      },
      {
        actor: 'ops-raj',
        action: 'run',
        integration_name: 'Orders',
        reason: null,
        before: { watermark: WATERMARK },
        after: { runId: second.runId, outcome: 'failed', errorCode: 'http_status', watermark: WATERMARK },
      },
    ]);
  });

  it('writes no entry for an end that is not recorded, nor for a run no one asked for', async () => {
    const abandoned = await claims.startManualRun(orders, 'r1', 30_000, 'ops-jane');
    await abandon(abandoned.runId);
    expect((await runs.finishRun(abandoned, won)).applied).toBe(false);
    const anonymous = await claims.startManualRun(orders, 'r1', 30_000);
    expect((await runs.finishRun(anonymous, won)).applied).toBe(true);
    expect(await auditRows()).toStrictEqual([]);
  });

  describe('when this replica could not record the end (RunService answered lease_lost)', () => {
    const controlAnswering = (result: RunResult) =>
      new IntegrationControlService(
        integrations,
        runs,
        { runNow: () => Promise.resolve(result) } as unknown as RunService,
        new PauseRepository(dataSource, audit),
        audit,
      );

    it('answers the run another replica ended, and audits it', async () => {
      const started = await claims.startManualRun(orders, 'r1', 30_000);
      await abandon(started.runId);
      const control = controlAnswering({ kind: 'lease_lost', runId: started.runId, completion: won });
      const run = await control.runNow(orders, 'ops-jane');
      expect([run.id, run.outcome]).toStrictEqual([started.runId, 'abandoned']);
      expect(await auditRows()).toStrictEqual([
        {
          actor: 'ops-jane',
          action: 'run',
          integration_name: 'Orders',
          reason: null,
          before: { watermark: null },
          after: { runId: started.runId, outcome: 'abandoned', errorCode: null, watermark: null },
        },
      ]);
    });

    it('answers 503 for a run still recorded as running, and audits nothing', async () => {
      const started = await claims.startManualRun(orders, 'r1', 30_000);
      const control = controlAnswering({ kind: 'lease_lost', runId: started.runId, completion: won });
      const error = await control.runNow(orders, 'ops-jane').catch((e: unknown) => e);
      expect([(error as { getStatus(): number }).getStatus(), (error as Error).message]).toStrictEqual([
        503,
        'the run finished but its result could not be recorded; see the logs',
      ]);
      expect(await auditRows()).toStrictEqual([]);
    });
  });
});

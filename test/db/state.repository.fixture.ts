import { afterAll, beforeAll, beforeEach, expect } from 'vitest';
import type { DataSource } from 'typeorm';
import type { IntegrationConfig } from '../../src/config';
import { createDataSource, runMigrationsLocked } from '../../src/persistence/data-source';
import { AuditRepository } from '../../src/persistence/audit.repository';
import { ClaimsRepository } from '../../src/persistence/claims.repository';
import { IntegrationsRepository } from '../../src/persistence/integrations.repository';
import { PauseRepository } from '../../src/persistence/pause.repository';
import { RunsRepository } from '../../src/persistence/runs.repository';
import { nextFireTime } from '../../src/scheduler/cron-schedule';
import type { IntegrationStatus } from '../../src/upstream/integration-status';
import { createTestDatabase, type TestDatabase } from '../support/database';

// Shared by the state.repository.*.spec.ts files: each gets a database of its own, migrated, emptied before each test.

export const config = (
  sourceSystemId: number,
  integrationName: string,
  extra: Partial<IntegrationConfig> = {},
): IntegrationConfig => ({
  sourceSystemId,
  integrationName,
  cron: '0 */5 * * * *',
  timeZone: 'UTC',
  enabled: true,
  misfirePolicy: 'fire_once_now',
  ...extra,
});

/** The vector int64-ids.json as the parser returns it. */
export const INT64_STATUS: IntegrationStatus = {
  integrationName: 'Invoices',
  sourceSystemId: 12,
  lastRunStartDateTime: '2026-01-31T23:59:59.9999999+00:00',
  lastRunEndDateTime: '2026-01-31T23:59:59.9999999+00:00',
  processStatusMeaning: 'Complete',
  maxSyncDateTime: '2026-01-31T17:59:59.9999999-06:00',
  maxSyncDateTimeUtc: '2026-01-31T23:59:59.9999999Z',
  maxSyncDateMaxPkId: '9007199254740993',
  sourceId: '9223372036854775807',
  sourceIdString: 'ERP-12',
  customDatabaseValues: [],
};

export const NO_ATTEMPTS = { attempts: [], outcomeUnknownRetried: false };

export const claimOptions = (replicaId: string, extra: Partial<Parameters<ClaimsRepository['claimDue']>[0]> = {}) => ({
  replicaId,
  leaseMs: 30_000,
  misfireThresholdMs: 60_000,
  limit: 100,
  nextFireTime,
  ...extra,
});

export interface StateRepositoryFixture {
  db: TestDatabase;
  dataSource: DataSource;
  integrationsRepo: IntegrationsRepository;
  runsRepo: RunsRepository;
  claimsRepo: ClaimsRepository;
  pauseRepo: PauseRepository;
}

/**
 * Registers the hooks of a state repository test file (call it inside the file's describe): a migrated database
 * of its own, handed to `onReady` once open, and emptied before each test. Returns the SQL helpers on it.
 */
export function useStateRepository(onReady: (fixture: StateRepositoryFixture) => void) {
  let db: TestDatabase;
  let dataSource: DataSource;

  const sql = <T = Record<string, unknown>>(text: string, params: unknown[] = []) =>
    dataSource.query<T[]>(text, params);
  const makeDue = (name: string, agoMs = 1_000) =>
    sql(
      `UPDATE integration SET next_fire_at = date_trunc('second', now()) - make_interval(secs => $2::double precision / 1000) WHERE integration_name = $1`,
      [name, agoMs],
    );

  beforeAll(async () => {
    db = await createTestDatabase('repo');
    dataSource = createDataSource({ url: db.url, poolSize: 8, connectTimeoutMs: 5_000 });
    await dataSource.initialize();
    expect(await runMigrationsLocked(dataSource)).toStrictEqual([
      'CreateIntegrationAndRunTables1795948200000',
      'RecordAttemptsAndRegressions1795948500000',
      'LetRunFinishesUpdateIntegrationsInPlace1795958400000',
      'EventOutbox1795970000000',
      'AuditAndPauseReason1796100000000',
      'RecordTheAssumedUpstreamZone1796200000000',
      'KeepCustomDatabaseValuesInUpstreamOrder1796300000000',
    ]);
    onReady({
      db,
      dataSource,
      integrationsRepo: new IntegrationsRepository(dataSource),
      runsRepo: new RunsRepository(dataSource),
      claimsRepo: new ClaimsRepository(dataSource),
      pauseRepo: new PauseRepository(dataSource, new AuditRepository(dataSource)),
    });
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  beforeEach(async () => {
    await sql('TRUNCATE run, integration RESTART IDENTITY CASCADE');
  });

  return { sql, makeDue };
}

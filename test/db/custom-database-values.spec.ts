/**
 * `customDatabaseValues` is stored as `[key, value]` entries, so a run's values come back in the upstream's order;
 * the migration that brought the entries turns existing objects into entries in the order they were served in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataSource } from 'typeorm';
import type { IntegrationConfig } from '../../src/config';
import { MIGRATIONS } from '../../migrations';
import { orderedObject } from '../../src/http/dto/ordered-object';
import { createDataSource, runMigrationsLocked } from '../../src/persistence/data-source';
import { ClaimsRepository } from '../../src/persistence/claims.repository';
import { IntegrationsRepository } from '../../src/persistence/integrations.repository';
import { RunsRepository } from '../../src/persistence/runs.repository';
import { nextFireTime } from '../../src/scheduler/cron-schedule';
import type { CustomDatabaseValues, IntegrationStatus } from '../../src/upstream/integration-status';
import { createTestDatabase, type TestDatabase } from '../support/database';

const config = (integrationName: string): IntegrationConfig => ({
  sourceSystemId: 12,
  integrationName,
  cron: '0 0 0 1 1 *',
  timeZone: 'UTC',
  enabled: true,
  misfirePolicy: 'fire_once_now',
});

const status = (integrationName: string, customDatabaseValues: CustomDatabaseValues | null): IntegrationStatus => ({
  integrationName,
  sourceSystemId: 12,
  lastRunStartDateTime: '2026-01-31T23:59:59.9999999+00:00',
  lastRunEndDateTime: '2026-01-31T23:59:59.9999999+00:00',
  processStatusMeaning: 'Complete',
  maxSyncDateTime: '2026-01-31T17:59:59.9999999-06:00',
  maxSyncDateTimeUtc: '2026-01-31T23:59:59.9999999Z',
  maxSyncDateMaxPkId: '9007199254740993',
  sourceId: '1',
  sourceIdString: 'ERP-12',
  customDatabaseValues,
});

/** Keys whose upstream order neither a JS object ("10" before "2" before the rest) nor jsonb ("a" before "bb") keeps. */
const UPSTREAM_ORDER: CustomDatabaseValues = [
  ['bb', 'y'],
  ['10', 'ten'],
  ['a', ''],
  ['2', null],
  ['é', '"q" \\ 🚚'],
];
const UPSTREAM_ORDER_JSON = '[["bb", "y"], ["10", "ten"], ["a", ""], ["2", null], ["é", "\\"q\\" \\\\ 🚚"]]';

describe('customDatabaseValues on real Postgres', () => {
  let db: TestDatabase;
  let dataSource: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase('cdv');
    dataSource = createDataSource({ url: db.url, poolSize: 4, connectTimeoutMs: 5_000 });
    await dataSource.initialize();
    await runMigrationsLocked(dataSource);
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  it("a run's values are stored and read back in the upstream's order, exactly", async () => {
    const integrations = new IntegrationsRepository(dataSource);
    const claims = new ClaimsRepository(dataSource);
    const runs = new RunsRepository(dataSource);
    const cases: Array<[string, CustomDatabaseValues | null]> = [
      ['Ordered', UPSTREAM_ORDER],
      ['Empty', []],
      ['Null', null],
    ];
    await integrations.syncIntegrations(
      cases.map(([name]) => config(name)),
      nextFireTime,
    );
    for (const [name, values] of cases) {
      const started = await claims.startManualRun((await integrations.findIntegration(12, name))!, 'replica-a', 30_000);
      const { applied } = await runs.finishRun(started, {
        outcome: 'succeeded',
        status: status(name, values),
        httpStatus: 200,
        attempts: [],
        outcomeUnknownRetried: false,
        watermarkRegressed: false,
      });
      expect(applied).toBe(true);
      expect((await integrations.findIntegration(12, name))!.lastStatus).toStrictEqual(status(name, values));
    }
    const rows = await dataSource.query<Array<Record<string, string | null>>>(
      `SELECT i.integration_name AS name, (i.last_status->'customDatabaseValues')::text AS last_status,
              i.custom_database_values::text AS custom_database_values,
              (r.status->'customDatabaseValues')::text AS run_status
       FROM integration i JOIN run r ON r.id = i.last_run_id ORDER BY i.id`,
    );
    expect(rows).toStrictEqual([
      {
        name: 'Ordered',
        last_status: UPSTREAM_ORDER_JSON,
        custom_database_values: UPSTREAM_ORDER_JSON,
        run_status: UPSTREAM_ORDER_JSON,
      },
      { name: 'Empty', last_status: '[]', custom_database_values: '[]', run_status: '[]' },
      { name: 'Null', last_status: 'null', custom_database_values: null, run_status: 'null' },
    ]);
  });

  it('reads an object that a replica of the previous version wrote as entries, in the order it was served in', async () => {
    const integrations = new IntegrationsRepository(dataSource);
    await integrations.syncIntegrations([config('Previous')], nextFireTime);
    await dataSource.query(`UPDATE integration SET last_status = $1::jsonb WHERE integration_name = 'Previous'`, [
      JSON.stringify({ ...status('Previous', null), customDatabaseValues: { bb: 'y', '10': 'ten', a: '', '2': null } }),
    ]);
    expect((await integrations.findIntegration(12, 'Previous'))!.lastStatus?.customDatabaseValues).toStrictEqual([
      ['2', null],
      ['10', 'ten'],
      ['a', ''],
      ['bb', 'y'],
    ]);
  });
});

describe('the migration to entries', () => {
  const MIGRATION = 'KeepCustomDatabaseValuesInUpstreamOrder1796300000000';
  /**
   * Every kind of key: array indices (to 4294967294) as a JS object lists them, then the rest in jsonb's order
   * (shorter first, then bytewise), which is how the previous version served them.
   */
  const OBJECT = {
    b: '1',
    '10': 'x',
    '2': null,
    a: '',
    bb: 'y',
    '01': 'z',
    '4294967295': 'not an index',
    '4294967294': 'largest index',
    '-1': 'neg',
    '0': 'zero',
    é: '"q" \\ 🚚',
  };
  const ENTRIES: CustomDatabaseValues = [
    ['0', 'zero'],
    ['2', null],
    ['10', 'x'],
    ['4294967294', 'largest index'],
    ['a', ''],
    ['b', '1'],
    ['-1', 'neg'],
    ['01', 'z'],
    ['bb', 'y'],
    ['é', '"q" \\ 🚚'],
    ['4294967295', 'not an index'],
  ];

  let db: TestDatabase;
  let dataSource: DataSource;
  const sql = <T = Record<string, unknown>>(text: string, params: unknown[] = []) =>
    dataSource.query<T[]>(text, params);

  beforeAll(async () => {
    db = await createTestDatabase('cdvmig');
    // The schema as the previous version left it, with its data.
    const previous = new DataSource({
      type: 'postgres',
      url: db.url,
      migrations: MIGRATIONS.filter((migration) => migration.name !== MIGRATION),
      migrationsTableName: 'tidemark_migrations',
    });
    await previous.initialize();
    try {
      expect(await previous.runMigrations({ transaction: 'each' })).toHaveLength(MIGRATIONS.length - 1);
      const values = [JSON.stringify(OBJECT), '{}', 'null', null];
      for (const [i, value] of values.entries()) {
        const lastStatus = value === null ? null : `{"integrationName":"I${i}","customDatabaseValues":${value}}`;
        await previous.query(
          `WITH i AS (
             INSERT INTO integration (source_system_id, integration_name, cron, time_zone, misfire_policy, last_status,
                                      custom_database_values)
             VALUES (12, $1, '0 0 0 1 1 *', 'UTC', 'skip', $2::jsonb, NULLIF($2::jsonb->'customDatabaseValues', 'null'))
             RETURNING id
           )
           INSERT INTO run (integration_id, trigger, replica_id, outcome, finished_at, status)
           SELECT id, 'manual', 'replica-a', 'succeeded', now(), $2::jsonb FROM i`,
          [`I${i}`, lastStatus],
        );
      }
    } finally {
      await previous.destroy();
    }
    dataSource = createDataSource({ url: db.url, poolSize: 2, connectTimeoutMs: 5_000 });
    await dataSource.initialize();
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  const stored = () =>
    sql<{ name: string; last_status: string | null; custom_database_values: string | null; run_status: string | null }>(
      `SELECT i.integration_name AS name, i.last_status::text AS last_status,
              i.custom_database_values::text AS custom_database_values, r.status::text AS run_status
       FROM integration i JOIN run r ON r.integration_id = i.id ORDER BY i.id`,
    );
  const converted = (entries: string) => ({
    custom_database_values: entries,
    last_status: `{"integrationName": "I0", "customDatabaseValues": ${entries}}`,
  });

  it('turns every stored object into entries in the order it was served in, and back', async () => {
    const before = await stored();
    expect(await runMigrationsLocked(dataSource)).toStrictEqual([MIGRATION]);

    const entriesJson =
      '[["0", "zero"], ["2", null], ["10", "x"], ["4294967294", "largest index"], ["a", ""], ["b", "1"], ' +
      '["-1", "neg"], ["01", "z"], ["bb", "y"], ["é", "\\"q\\" \\\\ 🚚"], ["4294967295", "not an index"]]';
    expect(await stored()).toStrictEqual([
      { name: 'I0', ...converted(entriesJson), run_status: converted(entriesJson).last_status },
      {
        name: 'I1',
        last_status: '{"integrationName": "I1", "customDatabaseValues": []}',
        custom_database_values: '[]',
        run_status: '{"integrationName": "I1", "customDatabaseValues": []}',
      },
      { ...before[2] },
      { ...before[3] },
    ]);
    expect(before[2]).toStrictEqual({
      name: 'I2',
      last_status: '{"integrationName": "I2", "customDatabaseValues": null}',
      custom_database_values: null,
      run_status: '{"integrationName": "I2", "customDatabaseValues": null}',
    });
    expect(before[3]).toStrictEqual({ name: 'I3', last_status: null, custom_database_values: null, run_status: null });

    // What the previous version served for these values, byte for byte: JSON.parse of the jsonb text, stringified.
    const previouslyServed = JSON.stringify(JSON.parse(before[0].custom_database_values!));
    const [row] = await sql<{ values: CustomDatabaseValues }>(
      `SELECT custom_database_values AS values FROM integration WHERE integration_name = 'I0'`,
    );
    expect(row.values).toStrictEqual(ENTRIES);
    expect(JSON.stringify(orderedObject(row.values))).toBe(previouslyServed);
    const state = await new IntegrationsRepository(dataSource).findIntegration(12, 'I0');
    expect(state?.lastStatus?.customDatabaseValues).toStrictEqual(ENTRIES);

    await dataSource.undoLastMigration({ transaction: 'each' });
    expect(await stored()).toStrictEqual(before);

    expect(await runMigrationsLocked(dataSource)).toStrictEqual([MIGRATION]);
    expect((await stored())[0]).toStrictEqual({
      name: 'I0',
      ...converted(entriesJson),
      run_status: converted(entriesJson).last_status,
    });
  });
});

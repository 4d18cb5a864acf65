import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataSource } from '../../src/persistence/data-source';
import { isTransientDatabaseError } from '../../src/runs/run.service';
import { createTestDatabase, type TestDatabase } from '../support/database';

describe('connection pool limits', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('pool');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('fails a checkout from an exhausted pool within DB_CONNECT_TIMEOUT_MS instead of waiting forever', async () => {
    const dataSource = createDataSource({ url: db.url, poolSize: 1, connectTimeoutMs: 500 });
    await dataSource.initialize();
    const holder = dataSource.createQueryRunner();
    await holder.connect();
    await holder.startTransaction();
    try {
      const startedAt = Date.now();
      const error = await dataSource.query('SELECT 1').catch((e: unknown) => e);
      const waited = Date.now() - startedAt;
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(/timeout exceeded when trying to connect/i);
      expect(isTransientDatabaseError(error)).toBe(true);
      expect(waited).toBeGreaterThanOrEqual(450);
      expect(waited).toBeLessThan(2_000);
    } finally {
      await holder.rollbackTransaction();
      await holder.release();
      await dataSource.destroy();
    }
  });

  it('fails to connect to a closed port quickly and calls it transient', async () => {
    const dataSource = createDataSource({
      url: 'postgres://postgres@127.0.0.1:1/none',
      poolSize: 1,
      connectTimeoutMs: 500,
    });
    const error = await dataSource.initialize().catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('ECONNREFUSED');
    expect(isTransientDatabaseError(error)).toBe(true);
    expect(isTransientDatabaseError(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(false);
  });

  it('calls a deadlock the database broke transient: the victim rolled back, so its write can be repeated', async () => {
    const dataSource = createDataSource({ url: db.url, poolSize: 2, connectTimeoutMs: 5_000 });
    await dataSource.initialize();
    await dataSource.query(
      `CREATE TABLE IF NOT EXISTS crossed (id int PRIMARY KEY); INSERT INTO crossed VALUES (1), (2)`,
    );
    const [a, b] = [dataSource.createQueryRunner(), dataSource.createQueryRunner()];
    try {
      for (const runner of [a, b]) {
        await runner.connect();
        await runner.startTransaction();
        await runner.query(`SET LOCAL deadlock_timeout = '50ms'`);
      }
      await a.query('SELECT id FROM crossed WHERE id = 1 FOR UPDATE');
      await b.query('SELECT id FROM crossed WHERE id = 2 FOR UPDATE');
      const outcomes = await Promise.allSettled([
        a.query('SELECT id FROM crossed WHERE id = 2 FOR UPDATE'),
        b.query('SELECT id FROM crossed WHERE id = 1 FOR UPDATE'),
      ]);
      const victims = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
      expect(victims.length).toBe(1);
      expect((victims[0].reason as { driverError: { code: string } }).driverError.code).toBe('40P01');
      expect(isTransientDatabaseError(victims[0].reason)).toBe(true);
      expect(isTransientDatabaseError(Object.assign(new Error('could not serialize'), { code: '40001' }))).toBe(true);
    } finally {
      for (const runner of [a, b]) {
        await runner.rollbackTransaction().catch(() => undefined);
        await runner.release();
      }
      await dataSource.destroy();
    }
  });
});

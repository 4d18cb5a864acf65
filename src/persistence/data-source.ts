import { DataSource } from 'typeorm';
import { MIGRATIONS } from '../../migrations';
import { IntegrationEntity } from './entities/integration.entity';
import { RunEntity } from './entities/run.entity';

export interface DatabaseOptions {
  url: string;
  /** Connections per replica. */
  poolSize: number;
  /** Longest wait for a connection, new or pooled, ms. */
  connectTimeoutMs: number;
}

/** A TypeORM DataSource for Tidemark's schema; never `synchronize`: the schema is what the migrations say. */
export function createDataSource(options: DatabaseOptions): DataSource {
  return new DataSource({
    type: 'postgres',
    url: options.url,
    entities: [IntegrationEntity, RunEntity],
    migrations: MIGRATIONS,
    migrationsTableName: 'tidemark_migrations',
    synchronize: false,
    migrationsRun: false,
    logging: false,
    extra: {
      max: options.poolSize,
      connectionTimeoutMillis: options.connectTimeoutMs,
      application_name: 'tidemark',
    },
  });
}

/** Arbitrary but fixed: every Tidemark replica takes this advisory lock around migrations. */
const MIGRATION_LOCK_KEY = 7_466_108_271;

/**
 * Applies pending migrations under a session advisory lock, so replicas that start together on an empty
 * database apply the schema once: the first holds the lock and migrates, the others wait and find nothing to do.
 * @returns names of the migrations this call applied (empty when the schema was current)
 */
export async function runMigrationsLocked(dataSource: DataSource): Promise<string[]> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      return applied.map((m) => m.name);
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await runner.release();
  }
}

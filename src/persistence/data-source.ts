import { DataSource } from 'typeorm';
import { MIGRATIONS } from '../../migrations';

/** Injection token of the DataSource that bootstrap has connected and migrated. */
export const TIDEMARK_DATA_SOURCE = Symbol('TIDEMARK_DATA_SOURCE');

export interface DatabaseOptions {
  url: string;
  /** Connections per replica. */
  poolSize: number;
  /** Longest wait for a connection, new or pooled, ms. */
  connectTimeoutMs: number;
}

/**
 * A TypeORM DataSource for Tidemark's schema. There are no entities: the repositories write SQL against the tables
 * the migrations define, and never `synchronize`. Connections run pg's pipeline mode, so that a transaction can send
 * two statements in one round trip (see PipelinedTransaction); queries issued one at a time behave as without it.
 */
export function createDataSource(options: DatabaseOptions): DataSource {
  return new DataSource({
    type: 'postgres',
    url: options.url,
    entities: [],
    migrations: MIGRATIONS,
    migrationsTableName: 'tidemark_migrations',
    synchronize: false,
    migrationsRun: false,
    logging: false,
    extra: {
      max: options.poolSize,
      connectionTimeoutMillis: options.connectTimeoutMs,
      application_name: 'tidemark',
      pipeline: true,
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

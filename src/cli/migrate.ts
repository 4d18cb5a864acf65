import 'reflect-metadata';
import { ConfigError } from '../config/load-config';
import { loadDatabaseConfigFromProcess } from '../config/database-config';
import { createDataSource, runMigrationsLocked } from '../persistence/data-source';

/**
 * `npm run migration:run`: applies pending migrations to DATABASE_URL under the same advisory lock the service
 * takes at boot, then exits. Running it again, or while replicas start, is a no-op.
 * Reads only the database variables (DATABASE_URL, DB_CONNECT_TIMEOUT_MS; DB_POOL_SIZE is validated, but two
 * connections suffice), so it runs without the upstream's or the API's settings. It never starts the embedded
 * Postgres: without DATABASE_URL there is nothing to migrate.
 * Exit codes: 0 when the schema is current (or for --help), 1 for a configuration problem or a failed migration,
 * 2 for an argument it does not take.
 */
const USAGE = `usage: npm run migration:run
  Applies pending migrations to DATABASE_URL and exits (0: schema current, 1: configuration problem or failure).
  Reads DATABASE_URL and DB_CONNECT_TIMEOUT_MS; takes no arguments.
`;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(USAGE);
    return;
  }
  if (args.length > 0) {
    process.stderr.write(`migrate: ${args[0]}: is not an argument it takes; run with --help for usage\n`);
    process.exit(2);
  }
  const database = loadDatabaseConfigFromProcess();
  if (!database.url) {
    throw new ConfigError(['DATABASE_URL: must be set to run migrations']);
  }
  const dataSource = createDataSource({
    url: database.url,
    // One connection holds the advisory lock, the other runs the migrations.
    poolSize: 2,
    connectTimeoutMs: database.connectTimeoutMs,
  });
  await dataSource.initialize();
  try {
    const applied = await runMigrationsLocked(dataSource);
    process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'schema is current; nothing to apply\n');
  } finally {
    await dataSource.destroy();
  }
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    for (const problem of error.problems) process.stderr.write(`config error: ${problem}\n`);
  } else {
    process.stderr.write(`migration failed: ${(error as Error)?.message ?? String(error)}\n`);
  }
  process.exit(1);
});

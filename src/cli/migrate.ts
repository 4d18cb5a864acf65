import 'reflect-metadata';
import { ConfigError, loadConfigFromProcess } from '../config';
import { createDataSource, runMigrationsLocked } from '../persistence/data-source';

/**
 * `npm run migration:run`: applies pending migrations to DATABASE_URL under the same advisory lock the service
 * takes at boot, then exits. Running it again, or while replicas start, is a no-op.
 */
async function main(): Promise<void> {
  const config = loadConfigFromProcess();
  if (!config.database.url) {
    process.stderr.write('config error: DATABASE_URL: must be set to run migrations\n');
    process.exit(1);
  }
  const dataSource = createDataSource({
    url: config.database.url,
    poolSize: 2,
    connectTimeoutMs: config.database.connectTimeoutMs,
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

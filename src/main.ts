import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createTidemarkApp } from './bootstrap';
import { ConfigError, loadConfigFromProcess, type AppConfig } from './config';
import { fatalStartLine } from './observability/logging';

/** The loaded configuration, once valid: a failed start is reported without its secrets. */
let config: AppConfig | null = null;

/**
 * Entry point: validate config (exit 1 with one line per problem before listening), build, listen, and on SIGTERM
 * or SIGINT shut down gracefully and exit 0. A start that fails later prints one JSON line and exits 1.
 */
async function main(): Promise<void> {
  try {
    config = loadConfigFromProcess();
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const problem of error.problems) process.stderr.write(`config error: ${problem}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = new Logger('Tidemark');
  // A stray rejection (a pg client error during a database restart, say) is logged, never fatal: the scheduler
  // and the facade recover on the next tick or request.
  process.on('unhandledRejection', (reason) => {
    logger.error(`unhandled rejection: ${(reason as Error)?.stack ?? String(reason)}`);
  });
  const tidemark = await createTidemarkApp(config);
  let closing = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    logger.log(`${signal} received: shutting down`);
    tidemark.close(signal).then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error(`shutdown failed: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  await tidemark.app.listen(config.http.port, config.http.host);
  const { port } = tidemark.app.getHttpServer().address() as { port: number };
  logger.log(`listening on http://${config.http.host}:${port} (replica ${config.replicaId})`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${fatalStartLine(error, config)}\n`);
  process.exit(1);
});

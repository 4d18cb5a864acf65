import type { DestinationStream } from 'pino';
import { loadConfig, type Env } from '../../src/config';
import { createTidemarkApp, type TidemarkApp } from '../../src/bootstrap';
import { openApiDocumentOf } from '../../src/http/openapi';
import { unwatchContract, watchContract } from './contract';

export interface RunningApp {
  tidemark: TidemarkApp;
  /** Base URL of the facade, e.g. http://127.0.0.1:40123 */
  url: string;
  close(): Promise<void>;
}

/** A cron that never fires during a test (1 January, midnight), for tests that only trigger runs by hand. */
export const NEVER = '0 0 0 1 1 *';

/**
 * Starts the whole app on 127.0.0.1 with a random port, configured exactly as from these variables. Every response
 * fetched from it is checked against the OpenAPI document it serves (./contract.ts). Logging is off unless
 * `logDestination` is given, which then receives every JSON log line.
 */
export async function startApp(env: Env, options: { logDestination?: DestinationStream } = {}): Promise<RunningApp> {
  const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', ...env }, process.cwd());
  const tidemark = await createTidemarkApp(config, { logger: false, logDestination: options.logDestination });
  await tidemark.app.listen(0, '127.0.0.1');
  const address = tidemark.app.getHttpServer().address();
  if (!address || typeof address === 'string') throw new Error('no TCP address');
  const url = `http://127.0.0.1:${address.port}`;
  const document = openApiDocumentOf(tidemark.app);
  if (!document) throw new Error('the app serves no OpenAPI document');
  watchContract(url, document);
  return {
    tidemark,
    url,
    close: async () => {
      unwatchContract(url);
      await tidemark.close();
    },
  };
}

/** Path of one integration: the name percent-encoded as a single segment. */
export function integrationPath(sourceSystemId: number, integrationName: string): string {
  return `/integrations/${sourceSystemId}/${encodeURIComponent(integrationName)}`;
}

/** Polls `probe` every 50 ms until it returns a value, or fails after `timeoutMs`. */
export async function eventually<T>(
  probe: () => Promise<T | undefined | null | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

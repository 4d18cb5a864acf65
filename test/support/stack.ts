import type { Env } from '../../src/config';
import { UpstreamSimulator } from '../../src/demo/simulator';
import { startApp, type RunningApp } from './app';
import { createTestDatabase, type TestDatabase } from './database';

/** The whole app on a database of its own, talking to a simulator of its own. */
export interface Stack {
  db: TestDatabase;
  simulator: UpstreamSimulator;
  app: RunningApp;
  /** Closes the app, then the simulator, then drops the database. */
  close(): Promise<void>;
}

/**
 * Starts a fresh test database, a simulator on 127.0.0.1 and the app configured against both, plus `env`.
 * @param label goes into the database name, to tell test files apart
 */
export async function startStack(label: string, env: Env): Promise<Stack> {
  const db = await createTestDatabase(label);
  const simulator = new UpstreamSimulator();
  const app = await startApp({ DATABASE_URL: db.url, UPSTREAM_BASE_URL: await simulator.start(), ...env });
  return {
    db,
    simulator,
    app,
    close: async () => {
      await app.close();
      await simulator.stop();
      await db.drop();
    },
  };
}

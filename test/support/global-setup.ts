import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../src/demo/embedded-postgres';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A Postgres URL whose user may CREATE DATABASE; each test file makes its own database from it. */
    adminDatabaseUrl: string;
  }
}

/**
 * Tests run against real Postgres: the one named by TEST_DATABASE_URL, else an embedded one started here once
 * for the whole run (so `npm test` passes on a machine with nothing but Node).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const given = process.env.TEST_DATABASE_URL;
  if (given) {
    project.provide('adminDatabaseUrl', given);
    return async () => {};
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'tidemark-test-pg-'));
  const pg = await startEmbeddedPostgres({ dataDir });
  project.provide('adminDatabaseUrl', pg.url);
  return async () => {
    await pg.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
}

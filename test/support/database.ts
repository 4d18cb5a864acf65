import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { inject } from 'vitest';

export interface TestDatabase {
  /** URL of a new, empty database made for one test file. */
  url: string;
  /** Drops the database (terminating stray connections). */
  drop(): Promise<void>;
}

/** Creates an empty database on the test server, so each file starts clean and files can run in parallel. */
export async function createTestDatabase(label = 't'): Promise<TestDatabase> {
  const adminUrl = inject('adminDatabaseUrl');
  const name = `tidemark_${label}_${process.pid}_${randomBytes(4).toString('hex')}`.toLowerCase();
  await withAdmin(adminUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () =>
      withAdmin(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(
        () => undefined,
      ),
  };
}

async function withAdmin<T>(adminUrl: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { inject } from 'vitest';

export interface TestDatabase {
  /** URL of a new, empty database made for one test file. */
  url: string;
  /** Drops the database (terminating stray connections). */
  drop(): Promise<void>;
  /**
   * A URL for this database as a new login role with the given password, which owns the database. Works on a
   * trust-auth server and on a password-auth one (the embedded Postgres) alike.
   */
  urlWithPassword(password: string): Promise<string>;
}

/** Creates an empty database on the test server, so each file starts clean and files can run in parallel. */
export async function createTestDatabase(label = 't'): Promise<TestDatabase> {
  const adminUrl = inject('adminDatabaseUrl');
  const name = `tidemark_${label}_${process.pid}_${randomBytes(4).toString('hex')}`.toLowerCase();
  await withAdmin(adminUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const roles: string[] = [];
  return {
    url: url.toString(),
    urlWithPassword: async (password) => {
      const role = `${name}_r${roles.length}`;
      roles.push(role);
      // DDL takes no bind parameters; pg's own escaping quotes the generated role name and the test's password.
      await withAdmin(adminUrl, async (client) => {
        await client.query(
          `CREATE ROLE ${client.escapeIdentifier(role)} LOGIN PASSWORD ${client.escapeLiteral(password)}`,
        );
        await client.query(`ALTER DATABASE ${client.escapeIdentifier(name)} OWNER TO ${client.escapeIdentifier(role)}`);
      });
      const withRole = new URL(url);
      withRole.username = role;
      withRole.password = password;
      return withRole.toString();
    },
    drop: async () => {
      await withAdmin(adminUrl, async (client) => {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        for (const role of roles) await client.query(`DROP ROLE IF EXISTS ${client.escapeIdentifier(role)}`);
      });
    },
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

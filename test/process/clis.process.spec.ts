import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../migrations';
import { createTestDatabase, type TestDatabase } from '../support/database';

/**
 * The built command-line tools as a user runs them (`npm run build` first): `npm run simulator` and
 * `npm run migration:run`. Each runs with exactly the variables given (plus PATH and HOME) and in an empty
 * directory, so that anything it wrote there (an embedded Postgres's data, say) would show.
 */
const SIMULATOR = join(process.cwd(), 'dist/src/demo/simulator/main.js');
const MIGRATE = join(process.cwd(), 'dist/src/cli/migrate.js');

interface Outcome {
  code: number | string;
  stdout: string;
  stderr: string;
}

let workDir: string;

function run(command: string, args: string[], env: Record<string, string> = {}, cwd = workDir): Promise<Outcome> {
  const child = spawn(command, args, {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolve) =>
    child.once('close', (code, signal) => resolve({ code: code ?? signal ?? '', stdout, stderr })),
  );
}

const node = (script: string, args: string[], env?: Record<string, string>) =>
  run(process.execPath, [script, ...args], env);

beforeAll(() => {
  for (const script of [SIMULATOR, MIGRATE]) {
    if (!existsSync(script)) throw new Error(`${script} is missing: run "npm run build" first (npm test does)`);
  }
  workDir = mkdtempSync(join(tmpdir(), 'tidemark-cli-'));
});

afterAll(() => rmSync(workDir, { recursive: true, force: true }));

describe('npm run simulator', () => {
  it('prints the usage on stdout for --help and -h, and exits 0', async () => {
    for (const flag of ['--help', '-h']) {
      const outcome = await node(SIMULATOR, [flag]);
      expect(outcome.code).toBe(0);
      expect(outcome.stderr).toBe('');
      expect(outcome.stdout.split('\n')[0]).toBe(
        'usage: simulator [--port N] [--host H] [--latency MS] [--offset ±HH:MM] [--first-run]',
      );
      expect(outcome.stdout.split('\n').at(-2)).toBe('  -h, --help        print this help and exit');
    }
  });

  it.each([
    [['--bogus'], 'simulator: --bogus: is not a known option; run with --help for usage'],
    [
      ['--port', '70000'],
      'simulator: --port: must be an integer from 0 to 65535 (got "70000"); run with --help for usage',
    ],
    [
      ['--offset', 'bogus'],
      'simulator: --offset: must be ±HH:MM within ±14:00 (got "bogus"); run with --help for usage',
    ],
    [['--latency'], 'simulator: --latency: needs a value; run with --help for usage'],
  ])('refuses %j with one line on stderr and exit code 2', async (args, line) => {
    const outcome = await node(SIMULATOR, args);
    expect(outcome).toEqual({ code: 2, stdout: '', stderr: `${line}\n` });
  });

  it('passes help and refusals through npm unchanged', async () => {
    const help = await run('npm', ['run', '--silent', 'simulator', '--', '--help'], {}, process.cwd());
    expect(help.code).toBe(0);
    expect(help.stdout.split('\n')[0]).toBe(
      'usage: simulator [--port N] [--host H] [--latency MS] [--offset ±HH:MM] [--first-run]',
    );
    const bogus = await run('npm', ['run', '--silent', 'simulator', '--', '--bogus'], {}, process.cwd());
    expect(bogus).toEqual({
      code: 2,
      stdout: '',
      stderr: 'simulator: --bogus: is not a known option; run with --help for usage\n',
    });
    expect(bogus.stderr).not.toMatch(/^\s+at /m);
  });
});

describe('npm run migration:run', () => {
  let db: TestDatabase;
  const names = MIGRATIONS.map((Migration) => new Migration().name);

  beforeAll(async () => {
    db = await createTestDatabase('cli');
  });

  afterAll(async () => {
    await db.drop();
  });

  it('migrates a fresh database with DATABASE_URL alone, then finds nothing to do', async () => {
    const first = await node(MIGRATE, [], { DATABASE_URL: db.url });
    expect(first).toEqual({ code: 0, stdout: `applied: ${names.join(', ')}\n`, stderr: '' });

    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      const applied = await client.query<{ name: string }>('SELECT name FROM tidemark_migrations ORDER BY id');
      expect(applied.rows.map((row) => row.name)).toEqual(names);
      const tables = await client.query<{ tablename: string }>(
        `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`,
      );
      expect(tables.rows.map((row) => row.tablename)).toEqual([
        'audit',
        'event',
        'integration',
        'integration_staleness',
        'run',
        'tidemark_migrations',
        'webhook_cursor',
        'webhook_delivery',
      ]);
    } finally {
      await client.end();
    }

    // What the service demands in production (the upstream, its integrations, API keys) is no concern here.
    const again = await node(MIGRATE, [], {
      NODE_ENV: 'production',
      DATABASE_URL: db.url,
      UPSTREAM_BASE_URL: 'http://upstream.invalid',
    });
    expect(again).toEqual({ code: 0, stdout: 'schema is current; nothing to apply\n', stderr: '' });
  });

  it('refuses to run without DATABASE_URL, starting no embedded Postgres', async () => {
    const outcome = await node(MIGRATE, []);
    expect(outcome).toEqual({
      code: 1,
      stdout: '',
      stderr: 'config error: DATABASE_URL: must be set to run migrations\n',
    });
    expect(readdirSync(workDir)).toEqual([]);
  });

  it('prints its usage for --help without touching a database, and refuses an argument it does not take', async () => {
    const help = await node(MIGRATE, ['--help']);
    expect([help.code, help.stderr, help.stdout.split('\n')[0]]).toStrictEqual([0, '', 'usage: npm run migration:run']);
    expect(await node(MIGRATE, ['--force'], { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' })).toEqual({
      code: 2,
      stdout: '',
      stderr: 'migrate: --force: is not an argument it takes; run with --help for usage\n',
    });
  });

  it('names every bad database variable and its rule, one line each', async () => {
    const outcome = await node(MIGRATE, [], { DATABASE_URL: 'mysql://db/t', DB_CONNECT_TIMEOUT_MS: '10' });
    expect(outcome).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'config error: DATABASE_URL: must be a postgres:// or postgresql:// URL\n' +
        'config error: DB_CONNECT_TIMEOUT_MS: must be an integer from 100 to 600000 (got "10")\n',
    });
  });
});

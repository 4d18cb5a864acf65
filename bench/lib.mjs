// Helpers of the bench (bench/bench.mjs and its steps): processes, load generation, pgbench, /proc readings.
// Traffic goes to 127.0.0.1 only.
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, readdirSync, fstatSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export const ROOT = new URL('..', import.meta.url).pathname;
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function which(command) {
  try {
    return execFileSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** A child process whose first stdout line is its URL (the simulator, the bare server). */
export async function spawnUrlProcess(args, timeoutMs = 20_000, env = process.env) {
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${args.join(' ')} printed no URL within ${timeoutMs} ms:\n${output}`)),
      timeoutMs,
    );
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const line = output.split('\n').find((l) => l.startsWith('http'));
      if (line) {
        clearTimeout(timer);
        resolve(line.trim());
      }
    });
    child.stderr.on('data', (chunk) => (output += chunk));
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}:\n${output}`)));
  });
  return { url, child, stop: () => stopChild(child) };
}

export function stopChild(child, signal = 'SIGTERM', timeoutMs = 30_000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

/** Node's options in `npm run start:prod` (and the Dockerfile's CMD, which a unit test keeps equal to it). */
export const PRODUCTION_NODE_ARGS = (() => {
  const [, ...args] = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts['start:prod'].split(' ');
  return args.filter((arg) => arg.startsWith('--'));
})();

/**
 * One replica of the built service (`node dist/src/main.js` with the options of `npm run start:prod`), as production
 * runs it. Its stdout (the JSON log lines) goes to `logFile`, as to a log collector's file, rather than through a
 * pipe into the bench's own process, whose reading would take CPU from the loads.
 * @returns the process, its URL, when it was spawned, and `ready()` resolving with ms from spawn to /health/ready 200
 */
export async function startService(name, env, { nodeArgs = [], logFile } = {}) {
  const port = await freePort();
  const spawnedAt = performance.now();
  const logFd = logFile ? openSync(logFile, 'a') : null;
  const child = spawn(process.execPath, [...PRODUCTION_NODE_ARGS, ...nodeArgs, join(ROOT, 'dist/src/main.js')], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      HOST: '127.0.0.1',
      PORT: String(port),
      REPLICA_ID: name,
      ...env,
    },
    stdio: ['ignore', logFd ?? 'pipe', 'pipe'],
  });
  if (logFd !== null) closeSync(logFd);
  let output = '';
  const keep = (chunk) => {
    output += chunk;
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout?.on('data', keep);
  child.stderr.on('data', keep);
  const url = `http://127.0.0.1:${port}`;
  return {
    name,
    url,
    child,
    output: () => (logFile ? tailOf(logFile, 100_000) : '') + output,
    async ready(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (child.exitCode !== null)
          throw new Error(`${name} exited ${child.exitCode} before it was ready:\n${output}`);
        try {
          const response = await fetch(`${url}/health/ready`);
          await response.arrayBuffer();
          if (response.status === 200) return performance.now() - spawnedAt;
        } catch {
          // not listening yet
        }
        if (Date.now() > deadline) throw new Error(`${name} not ready within ${timeoutMs} ms:\n${output}`);
        await sleep(20);
      }
    },
    stop: () => stopChild(child),
  };
}

/** The last `bytes` of a file. */
function tailOf(file, bytes) {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const buffer = Buffer.alloc(Math.min(size, bytes));
    readSync(fd, buffer, 0, buffer.length, size - buffer.length);
    return buffer.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** CPU time (user + system) of a process so far, ms; null off Linux. */
export function cpuMs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / clockTicks();
  } catch {
    return null;
  }
}

/**
 * CPU time (ms) of every process named `postgres` on this machine (server and backends), with the time of backends
 * that have exited: the server counts its reaped children's time as its own (cutime, cstime), so the figure never
 * goes down when a connection closes within a window. 0 off Linux.
 */
export function postgresCpuMs() {
  let total = 0;
  let entries = [];
  try {
    entries = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return 0;
  }
  for (const pid of entries) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (!stat.includes('(postgres)')) continue;
      const fields = stat.split(') ')[1].split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
      total += (ticks * 1000) / clockTicks();
    } catch {
      // the process ended meanwhile
    }
  }
  return total;
}

let ticksPerSecond;
function clockTicks() {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** Resident set size of a process, MB; null off Linux. */
export function rssMb(pid) {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmRSS:'));
    return Number(line.replace(/\D+/g, '')) / 1024;
  } catch {
    return null;
  }
}

const WRK = which('wrk');
/**
 * wrk's threads: half the machine's cores, so that the load generator never takes the cores the server under test
 * needs. On 2 cores, wrk with 2 threads plus the server made 3 busy threads for 2 cores: the server waited for a
 * core behind wrk, and that wait, not the server, set p99 (the bare server's p99 was 6 to 40 ms with 2 threads,
 * 2.7 to 5.6 ms with one, in the same minutes).
 */
export const WRK_THREADS = Math.max(1, Math.floor(availableParallelism() / 2));
export const LOAD_TOOL = WRK ? `wrk -t${WRK_THREADS}` : 'autocannon';

/**
 * Drives `url` with 50 (or `connections`) keep-alive connections for `seconds`, with wrk when installed, else
 * autocannon. `pid`, when given, is the server process whose CPU time per request is reported.
 * @returns requests/s, latency percentiles (ms), request count, non-2xx/3xx count, socket errors, CPU µs per request
 */
export async function load({ url, seconds, connections = 50, headers = {}, pid }) {
  const cpuBefore = pid ? cpuMs(pid) : null;
  const result = WRK
    ? await wrk(url, seconds, connections, headers)
    : await autocannonRun(url, seconds, connections, headers);
  const cpuAfter = pid ? cpuMs(pid) : null;
  result.cpuUsPerRequest =
    cpuBefore !== null && cpuAfter !== null && result.requests > 0
      ? ((cpuAfter - cpuBefore) * 1000) / result.requests
      : null;
  return result;
}

/**
 * Several loads of one kind (rounds, all equally long) as one: the mean of their requests per second, the worst p50 and p99,
 * CPU per request over all requests, and the sums of non-2xx and failed responses.
 */
export function combineLoads(results) {
  const requests = results.reduce((sum, r) => sum + r.requests, 0);
  const rpsSum = results.reduce((sum, r) => sum + r.rps, 0);
  const withCpu = results.filter((r) => r.cpuUsPerRequest !== null);
  return {
    rps: rpsSum / results.length,
    p50Ms: Math.max(...results.map((r) => r.p50Ms ?? 0)),
    p99Ms: Math.max(...results.map((r) => r.p99Ms ?? 0)),
    p99MsRounds: results.map((r) => r.p99Ms ?? 0),
    requests,
    non2xx: results.reduce((sum, r) => sum + r.non2xx, 0),
    failed: results.reduce((sum, r) => sum + r.failed, 0),
    errors:
      results
        .map((r) => r.errors)
        .filter(Boolean)
        .join('; ') || null,
    cpuUsPerRequest:
      withCpu.length === results.length && requests > 0
        ? withCpu.reduce((sum, r) => sum + r.cpuUsPerRequest * r.requests, 0) / requests
        : null,
  };
}

async function wrk(url, seconds, connections, headers) {
  const args = [`-t${WRK_THREADS}`, `-c${connections}`, `-d${seconds}s`, '--latency', '--timeout', '5s'];
  for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}: ${value}`);
  args.push(url);
  const child = spawn(WRK, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (out += c));
  const code = await new Promise((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`wrk exited ${code}: ${out}`);
  const toMs = (text) => {
    const m = /([\d.]+)(us|ms|s)/.exec(text);
    if (!m) return null;
    return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
  };
  const pct = (p) => toMs((new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out) ?? [])[1] ?? '');
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
    p50Ms: pct(50),
    p99Ms: pct(99),
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
    non2xx: Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0),
    // wrk counts a status above 399 as "Non-2xx or 3xx".
    failed: Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0),
    errors: /Socket errors:(.*)/.exec(out)?.[1]?.trim() ?? null,
  };
}

/**
 * autocannon in a process of its own for each load, like wrk: in the bench's own process it shared a heap that grew
 * load after load, and the same bare server measured 57,000 then 38,000 req/s within one run.
 */
async function autocannonRun(url, seconds, connections, headers) {
  const args = [
    join(ROOT, 'node_modules/autocannon/autocannon.js'),
    '-c',
    String(connections),
    '-d',
    String(seconds),
    '-j',
  ];
  for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}: ${value}`);
  args.push(url);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (err += c));
  const code = await new Promise((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`autocannon exited ${code}: ${err}`);
  const result = JSON.parse(out);
  return {
    rps: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    failed: Object.entries(result.statusCodeStats ?? {}).reduce(
      (sum, [code, { count }]) => (Number(code) >= 400 ? sum + count : sum),
      0,
    ),
    errors: result.errors ? `${result.errors} errors, ${result.timeouts} timeouts` : null,
  };
}

/** A connected client of `url`, for queries on one connection; the caller ends it. */
export async function connectClient(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

/** A client of `url` for one query. */
export async function query(url, text, params = []) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, params)).rows;
  } finally {
    await client.end();
  }
}

/**
 * Single-row `INSERT … ON CONFLICT DO UPDATE` transactions per second with 8 clients: pgbench when installed, else a
 * loop of the same statement on 8 `pg` connections.
 */
export async function upsertTps(url, seconds, tmpDir) {
  await query(
    url,
    'CREATE TABLE IF NOT EXISTS bench_upsert (id int PRIMARY KEY, v timestamptz NOT NULL, n bigint NOT NULL)',
  );
  const statement =
    'INSERT INTO bench_upsert (id, v, n) VALUES ($1, now(), 1) ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v, n = bench_upsert.n + 1';
  const pgbench = which('pgbench');
  if (pgbench) {
    const script = join(tmpDir, 'upsert.sql');
    writeFileSync(script, `\\set id random(1, 10000)\n${statement.replace('$1', ':id')};\n`);
    const out = execFileSync(pgbench, ['-n', '-f', script, '-c', '8', '-j', '2', '-T', String(seconds), url], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tps = Number(
      /tps = ([\d.]+) \(without initial connection time\)/.exec(out)?.[1] ?? /tps = ([\d.]+)/.exec(out)?.[1],
    );
    return { tool: 'pgbench', tps };
  }
  const clients = await Promise.all(
    Array.from({ length: 8 }, async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      return client;
    }),
  );
  let count = 0;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    clients.map(async (client) => {
      while (performance.now() < deadline) {
        await client.query(statement, [1 + Math.floor(Math.random() * 10_000)]);
        count++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  await Promise.all(clients.map((c) => c.end()));
  return { tool: 'pg loop', tps: count / elapsed };
}

// Smoke test of the one-command start: the built service with no DATABASE_URL, UPSTREAM_BASE_URL or INTEGRATIONS
// starts an embedded Postgres and the simulator, both demo integrations get a watermark that moves forward, SIGTERM
// exits 0, and a second start reuses the embedded data. Run by .ci/run after `npm run build`.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const main = resolve('dist/src/main.js');
const workDir = mkdtempSync(join(tmpdir(), 'tidemark-smoke-'));
const deadlineMs = 90_000;

const freePort = () =>
  new Promise((ok, fail) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
    server.on('error', fail);
  });

function start(port) {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME ?? '/tmp', PORT: String(port), HOST: '127.0.0.1' };
  const child = spawn(process.execPath, [main], { cwd: workDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise((ok) => child.on('exit', (code, signal) => ok(code ?? signal)));
  return { child, exited, output: () => output };
}

async function poll(what, probe, timeoutMs) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch {}
    if (Date.now() > until) throw new Error(`smoke: ${what} not seen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const states = async (port) => {
  const response = await fetch(`http://127.0.0.1:${port}/integrations`);
  return (await response.json()).items;
};

let failed = false;
const port = await freePort();
const first = start(port);
try {
  const startedAt = Date.now();
  const marks = await poll(
    'two demo watermarks',
    async () => {
      const items = await states(port);
      return items.length === 2 && items.every((i) => i.maxSyncDateMaxPkId !== null) ? items : null;
    },
    deadlineMs,
  );
  console.log(`smoke: both demo integrations have a watermark after ${Date.now() - startedAt} ms`);
  await poll(
    'the watermarks moving forward',
    async () => {
      const items = await states(port);
      return items.every(
        (i, n) =>
          BigInt(i.maxSyncDateMaxPkId) > BigInt(marks[n].maxSyncDateMaxPkId) &&
          i.maxSyncDateTimeUtc > marks[n].maxSyncDateTimeUtc,
      );
    },
    30_000,
  );
  console.log('smoke: watermarks moved forward on a later tick');
  const before = await states(port);
  first.child.kill('SIGTERM');
  const code = await first.exited;
  if (code !== 0) throw new Error(`smoke: SIGTERM exit code ${code}`);
  console.log('smoke: SIGTERM exited 0');

  const second = start(port);
  try {
    const after = await poll(
      'state after restart',
      async () => {
        const items = await states(port);
        return items.length === 2 ? items : null;
      },
      deadlineMs,
    );
    for (const [n, item] of after.entries()) {
      if (BigInt(item.maxSyncDateMaxPkId) < BigInt(before[n].maxSyncDateMaxPkId))
        throw new Error('smoke: watermark lost across restart');
    }
    console.log('smoke: the second start reused the embedded data');
  } finally {
    second.child.kill('SIGTERM');
    await second.exited;
  }
} catch (error) {
  failed = true;
  console.error(String(error));
  console.error(first.output());
} finally {
  if (first.child.exitCode === null && first.child.signalCode === null) first.child.kill('SIGKILL');
  rmSync(workDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);

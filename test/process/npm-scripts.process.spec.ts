import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpstreamSimulator } from '../../src/demo/simulator';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { freePort } from '../support/replica';

/**
 * `npm start` and `npm run start:prod` as a user runs them: a signal sent to npm stops the service itself, so no
 * node process is left serving after npm has gone.
 */
describe('npm start scripts', () => {
  let simulator: UpstreamSimulator;
  let db: TestDatabase;
  let upstreamUrl: string;

  beforeAll(async () => {
    simulator = new UpstreamSimulator();
    upstreamUrl = await simulator.start();
    db = await createTestDatabase('npm');
  });

  afterAll(async () => {
    await simulator.stop();
    await db.drop();
  });

  async function startWithNpm(script: string) {
    const port = await freePort();
    const child = spawn('npm', ['run', '--silent', script], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        HOST: '127.0.0.1',
        PORT: String(port),
        DATABASE_URL: db.url,
        UPSTREAM_BASE_URL: upstreamUrl,
        INTEGRATIONS: JSON.stringify([{ sourceSystemId: 5, integrationName: 'Npm', cron: '0 0 0 1 1 *' }]),
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const exited = new Promise<number | string>((resolve) =>
      child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
    );
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 90_000;
    for (;;) {
      const status = await fetch(`${url}/health/ready`).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) break;
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`npm run ${script} not ready:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return { child, exited, url, output: () => output };
  }

  async function listening(url: string): Promise<boolean> {
    return fetch(`${url}/health/live`).then(
      () => true,
      () => false,
    );
  }

  it.each([
    ['start:prod', 'SIGTERM'],
    ['start:prod', 'SIGINT'],
    ['start', 'SIGINT'],
  ] as const)(
    'npm run %s stops the service on %s',
    async (script, signal) => {
      const started = await startWithNpm(script);
      expect(await listening(started.url)).toBe(true);
      started.child.kill(signal);
      const code = await started.exited;
      // npm reports the service's own exit: 0 after a graceful shutdown.
      expect(code).toBe(0);
      // Nothing is left serving on the port once npm has exited.
      const until = Date.now() + 5_000;
      while ((await listening(started.url)) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      expect(await listening(started.url)).toBe(false);
    },
    120_000,
  );
});

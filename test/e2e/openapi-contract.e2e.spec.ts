import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NEVER, type RunningApp } from '../support/app';
import { startStack, type Stack } from '../support/stack';

const run = promisify(execFile);
const CONTRACT = join(process.cwd(), 'test/contract');
const GENERATED = join(CONTRACT, 'generated');
const DOCUMENT = join(GENERATED, 'openapi.json');
const bin = (name: string) => join(process.cwd(), 'node_modules/.bin', name);
const OPERATE_KEY = 'contract-operator-key-Qm2xV8rT';
const keyHash = `sha256:${createHash('sha256').update(OPERATE_KEY).digest('hex')}`;

/** The contract as a consuming team checks it: linters, a generated client that compiles and runs. */
describe('the served OpenAPI document as a contract', () => {
  let stack: Stack;
  let app: RunningApp;

  beforeAll(async () => {
    stack = await startStack('contract', {
      API_KEYS: JSON.stringify([{ name: 'contract', keyHash, scopes: ['read', 'operate'] }]),
      INTEGRATIONS: JSON.stringify([{ sourceSystemId: 7, integrationName: 'Orders', cron: NEVER }]),
      // A subscription no event matches, so its deliveries stay empty.
      WEBHOOKS: JSON.stringify([
        {
          name: 'contract-sink',
          url: 'http://127.0.0.1:9/hooks',
          secret: `whsec_${Buffer.alloc(32, 7).toString('base64')}`,
          types: ['tidemark.webhook.exhausted'],
        },
      ]),
    });
    app = stack.app;
    const response = await fetch(`${app.url}/docs-json`);
    expect(response.status).toBe(200);
    mkdirSync(GENERATED, { recursive: true });
    writeFileSync(DOCUMENT, JSON.stringify(await response.json(), null, 2));
  });
  afterAll(() => stack?.close());

  it('passes Spectral (spectral:oas) with no error or warning', async () => {
    const ruleset = join(process.cwd(), '.spectral.yaml');
    const { stdout } = await run(bin('spectral'), ['lint', '-r', ruleset, '-f', 'json', '-q', DOCUMENT]).catch(
      (error: { stdout: string }) => error,
    );
    const results = JSON.parse(stdout || '[]') as Array<{ code: string; message: string; path: string[] }>;
    expect(results.map((r) => `${r.code}: ${r.message} at ${r.path.join('.')}`)).toStrictEqual([]);
  });

  it('passes Redocly lint (recommended) with no error', async () => {
    const { stdout } = await run(bin('redocly'), ['lint', '--config', 'redocly.yaml', '--format', 'json', DOCUMENT], {
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
    }).catch((error: { stdout: string }) => error);
    const report = JSON.parse(stdout) as { totals: { errors: number; warnings: number } };
    expect(report.totals).toMatchObject({ errors: 0 });
  });

  it('generates a TypeScript client whose consumer makes every documented call, type-checked and run', async () => {
    await run(bin('openapi-typescript'), [DOCUMENT, '-o', join(GENERATED, 'tidemark-api.d.ts')]);
    const tsc = await run(bin('tsc'), ['-p', join(CONTRACT, 'tsconfig.json')]).catch(
      (error: { stdout: string }) => error,
    );
    expect(tsc.stdout).toBe('');
    // Not a literal import: the consumer is type-checked above, against the types just generated, not by the project.
    const consumer = join(CONTRACT, 'consumer.ts');
    const { callEverything } = (await import(consumer)) as {
      callEverything: (baseUrl: string, apiKey: string) => Promise<Record<string, unknown>>;
    };
    const answers = await callEverything(app.url, OPERATE_KEY);
    expect(answers).toStrictEqual({
      listIntegrations: [200, 'Orders'],
      getIntegration: [200, 7],
      triggerRun: [201, 'succeeded'],
      listRuns: [200, 1],
      getRun: [200, '1000'],
      pauseIntegration: [200, true],
      getSchedule: [200, '2999-01-01T00:00:00.000Z'],
      resumeIntegration: [200, false],
      pauseSourceSystem: [200, 1],
      resumeSourceSystem: [200, false],
      listAudit: [200, 'resume,pause,resume,pause,run'],
      listWatermarks: [200, '1000'],
      getOverview: [200, 1],
      getCaller: [200, 'contract'],
      getLiveness: [200, 'ok'],
      getReadiness: [200, 'ok'],
      getMetrics: [200, true],
      streamEvents: [200, 'text/event-stream'],
      listWebhookDeliveries: [200, 0],
      retryWebhookDelivery: [404, 'https://tidemark.dev/problems/not-found'],
    });
    const document = (await (await fetch(`${app.url}/docs-json`)).json()) as { paths: Record<string, object> };
    const operationIds = Object.values(document.paths)
      .flatMap((item: any) => Object.values(item).map((operation: any) => operation.operationId as string))
      .sort();
    expect(operationIds).toStrictEqual(Object.keys(answers).sort());
  }, 120_000);
});

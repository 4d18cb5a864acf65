import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config';
import { createLoggerParams } from '../../../src/observability/logging';

const PRODUCTION_LIKE = {
  DATABASE_URL: 'postgres://svc@db.internal:5432/tidemark',
  UPSTREAM_BASE_URL: 'https://erp.example',
  INTEGRATIONS: '[{"sourceSystemId":1,"integrationName":"Orders"}]',
};

type LevelOf = (req: IncomingMessage, res: ServerResponse, error?: Error) => string;

function levelOf(env: Record<string, string>, terminal: boolean): LevelOf {
  const config = loadConfig(env, '/srv', { terminal });
  const [options] = createLoggerParams(config, { silent: true }).pinoHttp as [{ customLogLevel: LevelOf }];
  return options.customLogLevel;
}

const req = (method: string, url: string) => ({ method, url }) as IncomingMessage;
const res = (statusCode: number) => ({ statusCode }) as ServerResponse;

describe('logs in demo mode on a terminal', () => {
  it('are pretty there, and JSON when piped or configured for real', () => {
    expect(loadConfig({}, '/srv', { terminal: true }).observability.logFormat).toBe('pretty');
    expect(loadConfig({}, '/srv', { terminal: false }).observability.logFormat).toBe('json');
    expect(loadConfig(PRODUCTION_LIKE, '/srv', { terminal: true }).observability.logFormat).toBe('json');
    expect(loadConfig({ LOG_FORMAT: 'json' }, '/srv', { terminal: true }).observability.logFormat).toBe('json');
  });

  it('log successful reads (the dashboard polling) at debug, and everything else as before', () => {
    const demo = levelOf({}, true);
    expect(demo(req('GET', '/integrations'), res(200))).toBe('debug');
    expect(demo(req('GET', '/integrations/1/Orders'), res(304))).toBe('debug');
    expect(demo(req('POST', '/integrations/1/Orders/runs'), res(201))).toBe('info');
    expect(demo(req('GET', '/integrations/9/Nope'), res(404))).toBe('warn');
    const piped = levelOf({}, false);
    expect(piped(req('GET', '/integrations'), res(200))).toBe('info');
    const deployed = levelOf(PRODUCTION_LIKE, true);
    expect(deployed(req('GET', '/integrations'), res(200))).toBe('info');
  });
});

/**
 * The simulator's control API over HTTP (`/__simulator/...`), for a simulator in another process (the bench,
 * `npm run simulator`): the same scripting, seeding, auth and observation the class offers in-process.
 */
import type * as http from 'node:http';
import type { SimulatorAuthConfig } from './auth';
import type { SimulatorKey } from './pair-states';
import { CONTROL_PREFIX, readBody, sendJson } from './routing';
import type { ScriptedAnswer } from './scripting';
import type { UpstreamSimulator } from './upstream-simulator';

type ControlBody = Record<string, unknown>;
type ControlAction = (simulator: UpstreamSimulator, body: ControlBody, url: URL) => unknown;

/** Actions by `METHOD action`; each returns the JSON answer or throws a TypeError/RangeError (answered 400). */
const ACTIONS: Record<string, ControlAction> = {
  'POST script': (simulator, body) => {
    if (!Array.isArray(body.answers)) throw new TypeError('answers must be an array');
    // A Buffer body crosses JSON as base64.
    const answers = (body.answers as Array<ScriptedAnswer & { bodyBase64?: string }>).map(({ bodyBase64, ...a }) =>
      bodyBase64 !== undefined ? { ...a, body: Buffer.from(bodyBase64, 'base64') } : a,
    );
    simulator.script(body.key === undefined || body.key === '*' ? '*' : keyFrom(body.key), ...answers);
    return { queued: answers.length };
  },
  'POST latency': (simulator, body) => {
    simulator.setLatency(body.ms as number);
    return { ms: body.ms };
  },
  'GET calls': (simulator) => simulator.calls,
  'POST reset': (simulator) => {
    simulator.reset();
    return { reset: true };
  },
  'POST auth': (simulator, body) => {
    const config = body as unknown as SimulatorAuthConfig;
    simulator.configureAuth(config);
    return { mode: config.mode };
  },
  'POST expire-tokens': (simulator) => {
    simulator.expireTokens();
    return { expired: true };
  },
  'POST seed': (simulator, body) => {
    const { key, ...options } = body;
    simulator.seed(keyFrom(key), options);
    return { seeded: true };
  },
  'GET stats': (simulator, _body, url) => {
    const id = url.searchParams.get('sourceSystemId');
    const name = url.searchParams.get('integrationName');
    const key = id !== null && name !== null ? { sourceSystemId: Number(id), integrationName: name } : undefined;
    return {
      callCount: simulator.callCount(key),
      inFlight: key ? simulator.inFlight(key) : null,
      maxInFlight: key ? simulator.maxInFlight(key) : null,
      tokenRequests: simulator.tokenRequests,
    };
  },
};

/** Runs one control action; 400 for a body that is not a JSON object or values an action refuses, 404 for others. */
export async function handleControl(
  simulator: UpstreamSimulator,
  action: string,
  url: URL,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  const raw = (await readBody(req)).toString('utf8');
  let body: ControlBody = {};
  if (raw.trim() !== '') {
    try {
      const parsed: unknown = JSON.parse(raw);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new TypeError('not an object');
      body = parsed as ControlBody;
    } catch {
      return sendJson(res, 400, { Message: 'The control body must be a JSON object.' });
    }
  }
  const run = Object.hasOwn(ACTIONS, `${req.method} ${action}`) ? ACTIONS[`${req.method} ${action}`] : undefined;
  if (run === undefined) {
    return sendJson(res, 404, { Message: `Unknown simulator control ${req.method} ${CONTROL_PREFIX}${action}` });
  }
  let answer: unknown;
  try {
    answer = run(simulator, body, url);
  } catch (err) {
    return sendJson(res, 400, { Message: (err as Error).message });
  }
  sendJson(res, 200, answer);
}

function keyFrom(value: unknown): SimulatorKey {
  const v = value as Partial<SimulatorKey> | undefined;
  if (!v || typeof v.sourceSystemId !== 'number' || typeof v.integrationName !== 'string') {
    throw new TypeError('key must be {"sourceSystemId": number, "integrationName": string}');
  }
  return { sourceSystemId: v.sourceSystemId, integrationName: v.integrationName };
}

// A consuming team's client: every documented call through openapi-fetch, typed by openapi-typescript from the
// served /docs-json (generated/tidemark-api.d.ts, made by test/e2e/openapi-contract.e2e.spec.ts). It must type-check
// without a cast; the contract test also runs it against a live app.
import createClient from 'openapi-fetch';
import type { components, paths } from './generated/tidemark-api';

type RunView = components['schemas']['RunView'];
type Problem = components['schemas']['ProblemDetails'];

/** What the calls answered, by operationId: the status, and a value read from the typed body. */
export type Answers = Record<string, [number, string | number | boolean | null]>;

export async function callEverything(baseUrl: string, apiKey: string): Promise<Answers> {
  const client = createClient<paths>({ baseUrl, headers: { authorization: `Bearer ${apiKey}` } });
  const path = { sourceSystemId: 7, integrationName: 'Orders' };
  const answers: Answers = {};

  const list = await client.GET('/integrations', { params: { query: { limit: 10, sourceSystemId: 7 } } });
  answers.listIntegrations = [list.response.status, list.data?.items[0]?.integrationName ?? null];

  const one = await client.GET('/integrations/{sourceSystemId}/{integrationName}', { params: { path } });
  const sourceSystemId: number | undefined = one.data?.sourceSystemId;
  answers.getIntegration = [one.response.status, sourceSystemId ?? null];

  const triggered = await client.POST('/integrations/{sourceSystemId}/{integrationName}/runs', { params: { path } });
  const run: RunView | undefined = triggered.data;
  const problem: Problem | undefined = triggered.error;
  answers.triggerRun = [triggered.response.status, run?.outcome ?? problem?.type ?? null];

  const runs = await client.GET('/integrations/{sourceSystemId}/{integrationName}/runs', {
    params: { path, query: { limit: 5 } },
  });
  answers.listRuns = [runs.response.status, runs.data?.items.length ?? null];

  const fetched = await client.GET('/integrations/{sourceSystemId}/{integrationName}/runs/{runId}', {
    params: { path: { ...path, runId: run?.id ?? '1' } },
  });
  const pkId: string | null | undefined = fetched.data?.watermarkAfter?.maxSyncDateMaxPkId;
  answers.getRun = [fetched.response.status, pkId ?? null];

  const paused = await client.POST('/integrations/{sourceSystemId}/{integrationName}/pause', {
    params: { path },
    body: { reason: 'upstream maintenance', until: '2999-01-01T00:00:00Z' },
  });
  answers.pauseIntegration = [paused.response.status, paused.data?.paused ?? null];
  const schedule = await client.GET('/integrations/{sourceSystemId}/{integrationName}/schedule', { params: { path } });
  answers.getSchedule = [schedule.response.status, schedule.data?.pause?.until ?? null];
  const resumed = await client.POST('/integrations/{sourceSystemId}/{integrationName}/resume', { params: { path } });
  answers.resumeIntegration = [resumed.response.status, resumed.data?.paused ?? null];

  const systemPath = { sourceSystemId: 7 };
  const systemPaused = await client.POST('/source-systems/{sourceSystemId}/pause', {
    params: { path: systemPath },
    body: { reason: 'source system maintenance' },
  });
  answers.pauseSourceSystem = [systemPaused.response.status, systemPaused.data?.changed.length ?? null];
  const systemResumed = await client.POST('/source-systems/{sourceSystemId}/resume', { params: { path: systemPath } });
  answers.resumeSourceSystem = [systemResumed.response.status, systemResumed.data?.changed[0]?.paused ?? null];

  const audit = await client.GET('/audit', { params: { query: { sourceSystemId: 7, limit: 10 } } });
  answers.listAudit = [audit.response.status, audit.data?.items.map((entry) => entry.action).join(',') ?? null];
  const watermarks = await client.GET('/integrations/{sourceSystemId}/{integrationName}/watermarks', {
    params: { path, query: { limit: 5 } },
  });
  answers.listWatermarks = [watermarks.response.status, watermarks.data?.items[0]?.after.maxSyncDateMaxPkId ?? null];
  const overview = await client.GET('/overview', { params: { query: { sourceSystemId: 7 } } });
  answers.getOverview = [overview.response.status, overview.data?.items[0]?.recentRuns.length ?? null];
  const caller = await client.GET('/me');
  answers.getCaller = [caller.response.status, caller.data?.name ?? null];

  const live = await client.GET('/health/live');
  answers.getLiveness = [live.response.status, live.data?.status ?? null];
  const ready = await client.GET('/health/ready');
  answers.getReadiness = [ready.response.status, ready.data?.status ?? ready.error?.status ?? null];
  const metrics = await client.GET('/metrics', { parseAs: 'text' });
  answers.getMetrics = [metrics.response.status, typeof metrics.data === 'string' ? metrics.data.length > 0 : null];

  const events = await client.GET('/events', {
    params: { query: { types: 'tidemark.integration.*', sourceSystemId: 7 } },
    parseAs: 'stream',
  });
  answers.streamEvents = [events.response.status, events.response.headers.get('content-type')];
  await events.data?.cancel();
  const deliveries = await client.GET('/webhooks/{name}/deliveries', {
    params: { path: { name: 'contract-sink' }, query: { limit: 5, status: 'exhausted' } },
  });
  answers.listWebhookDeliveries = [deliveries.response.status, deliveries.data?.items.length ?? null];
  const retried = await client.POST('/webhooks/{name}/deliveries/{id}/retry', {
    params: { path: { name: 'contract-sink', id: '999999' } },
  });
  const missing: Problem | undefined = retried.error;
  answers.retryWebhookDelivery = [retried.response.status, retried.data?.status ?? missing?.type ?? null];
  return answers;
}

import type { OpenAPIObject } from '@nestjs/swagger';
import { PROBLEM_TYPE_BASE } from './problem';

type Json = Record<string, unknown>;

/** Which operations are open without a key, and whether /metrics is. */
export interface DocumentAccess {
  metricsPublic: boolean;
}

const PROBLEM_CONTENT = { 'application/problem+json': { schema: { $ref: '#/components/schemas/ProblemDetails' } } };

const RETRY_AFTER = {
  description: 'Seconds to wait before trying again.',
  required: true,
  schema: { type: 'integer', minimum: 0 },
};

/** The error (and 304) responses, shared by the operations in {@link STATUSES}. */
const RESPONSES: Record<string, Json> = {
  '304': {
    description: 'Not Modified: If-None-Match named the current ETag; no body.',
    headers: { ETag: { description: 'The current strong ETag.', required: true, schema: { type: 'string' } } },
  },
  '400': {
    description:
      'A path or query parameter or a body field broke a rule, or a query parameter is not a known one (`invalid-params` names it).',
    content: PROBLEM_CONTENT,
  },
  '401': {
    description: 'No API key, or an unknown one.',
    headers: {
      'WWW-Authenticate': { description: 'The Bearer challenge.', required: true, schema: { type: 'string' } },
    },
    content: PROBLEM_CONTENT,
  },
  '403': {
    description:
      'The key lacks the scope: `read` for GETs, `operate` for run now, pause, resume and webhook delivery retries.',
    content: PROBLEM_CONTENT,
  },
  '404': {
    description:
      'No such integration (or run of it), no integrations of the source system, or no such webhook subscription (or delivery of it).',
    content: PROBLEM_CONTENT,
  },
  '405': {
    description: 'The method is not allowed on this path; `Allow` lists those that are.',
    headers: { Allow: { description: 'The allowed methods.', required: true, schema: { type: 'string' } } },
    content: PROBLEM_CONTENT,
  },
  '409': {
    description:
      'A run of this integration is already going on some replica (`runId` names it, `Retry-After` is set), or the integration is disabled (no `Retry-After`: waiting will not help).',
    headers: { 'Retry-After': { ...RETRY_AFTER, required: false } },
    content: PROBLEM_CONTENT,
  },
  '413': { description: 'The request body is over 64 KiB.', content: PROBLEM_CONTENT },
  '415': { description: 'A request body of a type other than JSON.', content: PROBLEM_CONTENT },
  '429': {
    description: 'More than RATE_LIMIT_PER_MINUTE requests from this key.',
    headers: { 'Retry-After': RETRY_AFTER },
    content: PROBLEM_CONTENT,
  },
  '503': {
    description: 'The database is unreachable, or the replica is shutting down.',
    headers: { 'Retry-After': RETRY_AFTER },
    content: PROBLEM_CONTENT,
  },
};

const READ = [400, 401, 403, 405, 429, 503];
const ACTION = [400, 401, 403, 404, 405, 413, 415, 429, 503];

/** Every status each operation can answer besides its success, by operationId. */
const STATUSES: Record<string, number[]> = {
  listIntegrations: [304, ...READ],
  getIntegration: [304, 404, ...READ],
  listRuns: [304, 404, ...READ],
  getRun: [404, ...READ],
  triggerRun: [409, ...ACTION],
  pauseIntegration: ACTION,
  resumeIntegration: ACTION,
  pauseSourceSystem: ACTION,
  resumeSourceSystem: ACTION,
  listAudit: READ,
  getCaller: READ,
  getOverview: [304, ...READ],
  getSchedule: [404, ...READ],
  listWatermarks: [404, ...READ],
  getLiveness: [400, 405],
  getReadiness: [400, 405],
  getMetrics: [400, 401, 403, 405, 503],
  streamEvents: READ,
  listWebhookDeliveries: [404, ...READ],
  retryWebhookDelivery: ACTION,
};

/** Operations open without a key whatever the configuration. */
const PUBLIC_OPERATIONS = new Set(['getLiveness', 'getReadiness']);

/** Either key scheme will do (OpenAPI "or"). */
const KEY_SECURITY = [{ bearer: [] }, { apiKey: [] }];

const ETAG_HEADER = { description: 'Strong ETag of the body.', required: true, schema: { type: 'string' } };

const SCHEMAS: Record<string, Json> = {
  ProblemDetails: {
    type: 'object',
    description: 'RFC 9457 problem details.',
    required: ['type', 'title', 'status'],
    properties: {
      type: {
        type: 'string',
        format: 'uri',
        description: `The problem type: ${PROBLEM_TYPE_BASE} followed by a slug.`,
        examples: [`${PROBLEM_TYPE_BASE}invalid-parameters`],
      },
      title: { type: 'string', description: 'Short summary of the problem type.' },
      status: { type: 'integer', format: 'int32', minimum: 400, maximum: 599 },
      detail: { type: 'string', description: 'What went wrong with this request.' },
      instance: { type: 'string', description: 'The request path.' },
      'invalid-params': {
        type: 'array',
        description: 'On 400: each broken rule, naming the parameter.',
        items: {
          type: 'object',
          required: ['name', 'reason'],
          properties: { name: { type: 'string' }, reason: { type: 'string' } },
          additionalProperties: false,
        },
      },
      runId: {
        type: ['string', 'null'],
        pattern: '^-?[0-9]+$',
        description: 'On 409: the run holding the lease, when known.',
      },
    },
  },
  Liveness: {
    type: 'object',
    required: ['status'],
    properties: { status: { type: 'string', enum: ['ok'] } },
    additionalProperties: false,
  },
  HealthCheckResult: {
    type: 'object',
    description: "@nestjs/terminus's result: each check's state under `info` (up), `error` (down) and `details`.",
    required: ['status'],
    properties: {
      status: { type: 'string', enum: ['ok', 'degraded', 'error', 'shutting_down'] },
      info: { type: 'object', additionalProperties: { $ref: '#/components/schemas/HealthIndicatorState' } },
      error: { type: 'object', additionalProperties: { $ref: '#/components/schemas/HealthIndicatorState' } },
      details: { type: 'object', additionalProperties: { $ref: '#/components/schemas/HealthIndicatorState' } },
    },
  },
  HealthIndicatorState: {
    type: 'object',
    required: ['status'],
    properties: { status: { type: 'string', enum: ['up', 'down', 'degraded'] } },
  },
};

/**
 * Completes the document @nestjs/swagger generates into the contract Tidemark keeps: OpenAPI 3.1 schemas (nullable
 * as a `null` type, examples as `examples`), every error status each operation can answer with a problem+json
 * schema, response headers (ETag, Location, Retry-After, Allow, WWW-Authenticate), key security by default with
 * `security: []` on public operations, `/metrics`, tags and a server. Mutates and returns `document`.
 */
export function completeDocument(document: OpenAPIObject, access: DocumentAccess): OpenAPIObject {
  const doc = document as unknown as Json & { paths: Record<string, Record<string, Json>>; components: Json };
  doc.openapi = '3.1.0';
  doc.servers = [{ url: '/', description: 'This Tidemark replica.' }];
  doc.tags = [
    { name: 'integrations', description: 'Integration states, their runs, and the operations on them.' },
    { name: 'audit', description: 'The append-only trail of operator actions and automatic resumes.' },
    { name: 'dashboard', description: 'What the dashboard at / reads beside the states: caller, health, history.' },
    { name: 'health', description: 'Kubernetes-style probes; no key needed.' },
    { name: 'metrics', description: 'Prometheus metrics.' },
    { name: 'events', description: 'The live stream of events (CloudEvents over Server-Sent Events).' },
    { name: 'webhooks', description: 'Webhook deliveries of the subscriptions in WEBHOOKS.' },
  ];
  (doc.info as Json).license = { name: 'Proprietary', identifier: 'LicenseRef-Proprietary' };
  (doc.info as Json).contact = { name: 'Tidemark maintainers' };
  doc.security = KEY_SECURITY;
  const components = doc.components;
  const schemes = components.securitySchemes as Record<string, Json>;
  delete schemes.bearer.bearerFormat;
  components.schemas = { ...(components.schemas as Json), ...SCHEMAS };
  components.responses = RESPONSES;
  doc.paths['/metrics'] = { get: metricsOperation() };
  for (const item of Object.values(doc.paths)) {
    for (const operation of Object.values(item)) completeOperation(operation, access);
  }
  return to31(document) as OpenAPIObject;
}

function completeOperation(operation: Json, access: DocumentAccess): void {
  const id = operation.operationId as string;
  const responses = operation.responses as Record<string, Json>;
  for (const status of STATUSES[id] ?? []) responses[status] = { $ref: `#/components/responses/${status}` };
  for (const [status, response] of Object.entries(responses)) {
    if (status === '200' && (STATUSES[id] ?? []).includes(304)) response.headers = { ETag: ETAG_HEADER };
    if (status === '201' && id === 'triggerRun') {
      response.headers = {
        Location: { description: 'The path of the run (getRun).', required: true, schema: { type: 'string' } },
      };
    }
  }
  operation.security = PUBLIC_OPERATIONS.has(id) || (id === 'getMetrics' && access.metricsPublic) ? [] : KEY_SECURITY;
  if (id === 'getLiveness') {
    responses['200'] = jsonResponse('The process is alive.', 'Liveness');
  }
  if (id === 'getReadiness') {
    responses['200'] = jsonResponse('Ready (`ok`), or ready with stale integrations listed (`degraded`).');
    responses['503'] = jsonResponse('Database unreachable, scheduler stalled, or shutting down.');
  }
}

function jsonResponse(description: string, schema = 'HealthCheckResult'): Json {
  return { description, content: { 'application/json': { schema: { $ref: `#/components/schemas/${schema}` } } } };
}

function metricsOperation(): Json {
  return {
    operationId: 'getMetrics',
    summary: 'Prometheus metrics.',
    description:
      'Runs, upstream calls, watermarks and the process; open unless METRICS_PUBLIC=false (then a `read` key).',
    tags: ['metrics'],
    responses: {
      '200': {
        description: 'The Prometheus text exposition format.',
        content: { 'text/plain': { schema: { type: 'string' } } },
      },
    },
  };
}

/**
 * OpenAPI 3.0 schema keywords to 3.1 (JSON Schema 2020-12): `nullable: true` becomes a `null` type (or `oneOf` with
 * null beside a reference), `example` becomes `examples`. Walks the whole document.
 */
function to31(node: unknown, key?: string): unknown {
  if (Array.isArray(node)) return node.map((item) => to31(item));
  if (typeof node !== 'object' || node === null) return node;
  const out: Json = {};
  for (const [name, value] of Object.entries(node as Json)) out[name] = to31(value, name);
  // Media types and parameters keep `example`; only schemas take `examples`.
  const isSchema = key !== undefined && key !== 'content' && !/^[a-z]+\/[a-z+.-]+$/.test(key);
  if (isSchema && 'example' in out && ('type' in out || '$ref' in out || 'allOf' in out)) {
    out.examples = [out.example];
    delete out.example;
  }
  if (out.nullable !== true) {
    delete out.nullable;
    return out;
  }
  delete out.nullable;
  if (Array.isArray(out.allOf) && out.allOf.length === 1) {
    const { allOf, type: _type, ...rest } = out;
    return { ...rest, oneOf: [allOf[0], { type: 'null' }] };
  }
  if (typeof out.type === 'string') out.type = [out.type, 'null'];
  if (Array.isArray(out.enum)) out.enum = [...(out.enum as unknown[]), null];
  return out;
}

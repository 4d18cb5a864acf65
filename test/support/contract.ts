import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

/**
 * Checks responses of the apps under test against the OpenAPI document they serve: every documented operation's
 * status, content type, body (JSON Schema 2020-12 with Ajv in strict mode) and required headers; a path the document
 * knows under another method must answer a 405 problem; any other error must be a problem document. Installed once
 * per test worker by {@link watchContract}, around the global `fetch` that the e2e tests use: a response that breaks
 * the contract rejects the `fetch` call, failing the test that made it.
 */

type Json = Record<string, any>;

interface Contract {
  document: Json;
  ajv: Ajv2020;
  compiled: Map<string, ValidateFunction>;
}

const contracts = new Map<string, Contract>();
let checked = 0;
let nativeFetch: typeof fetch | undefined;

/** How many responses have been checked in this worker. */
export function checkedResponses(): number {
  return checked;
}

/** Checks every later response from `baseUrl` (an app's origin) against `document`. */
export function watchContract(baseUrl: string, document: object): void {
  const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
  addFormats(ajv);
  const schemas = rewriteRefs((document as Json).components?.schemas ?? {});
  ajv.addSchema({ $id: 'tidemark:components', $defs: schemas });
  contracts.set(new URL(baseUrl).origin, { document: document, ajv, compiled: new Map() });
  if (nativeFetch) return;
  nativeFetch = globalThis.fetch;
  const original = nativeFetch;
  globalThis.fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const response = await original(input, init);
    const url = new URL(input instanceof Request ? input.url : String(input));
    const contract = contracts.get(url.origin);
    if (!contract) return response;
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    const preflight = method === 'OPTIONS' && response.status < 300;
    if (method === 'HEAD' || preflight) return response;
    const body = await response.clone().text();
    const problems = checkResponse(contract, method, url.pathname, response, body);
    checked++;
    if (problems.length > 0) {
      throw new Error(
        `${method} ${url.pathname}${url.search} → ${response.status} breaks the OpenAPI contract:\n  ${problems.join('\n  ')}\n  body: ${body.slice(0, 500)}`,
      );
    }
    return response;
  };
}

/** Stops checking `baseUrl` (its app closed; the port may be reused). */
export function unwatchContract(baseUrl: string): void {
  contracts.delete(new URL(baseUrl).origin);
}

function checkResponse(contract: Contract, method: string, path: string, response: Response, body: string): string[] {
  const { document } = contract;
  const template = matchPath(document, path);
  const status = String(response.status);
  if (!template) {
    if (response.status < 400 || /^\/docs(?:-json|-yaml)?(?:\/|$)/.test(path)) return [];
    return checkBody(contract, 'ProblemDetails', 'application/problem+json', response, body);
  }
  const operation = document.paths[template][method.toLowerCase()];
  if (!operation) {
    if (status !== '405') return [`${method} is not documented for ${template}; expected 405, got ${status}`];
    const allow = response.headers.get('allow');
    const problems = checkBody(contract, 'ProblemDetails', 'application/problem+json', response, body);
    return allow ? problems : [...problems, 'a 405 without Allow'];
  }
  const id = `${method} ${template} ${status}`;
  let described = operation.responses[status];
  if (!described) return [`status ${status} is not documented for ${method} ${template}`];
  if (described.$ref) described = resolve(document, described.$ref);
  const problems: string[] = [];
  for (const [name, header] of Object.entries<Json>(described.headers ?? {})) {
    if (header.required && !response.headers.has(name)) problems.push(`required header ${name} is missing`);
  }
  const content: Json | undefined = described.content;
  if (!content) {
    if (body.length > 0) problems.push(`status ${status} is documented without a body, got ${body.length} bytes`);
    return problems;
  }
  const type = (response.headers.get('content-type') ?? '').split(';')[0].trim();
  const media = content[type];
  if (!media) return [...problems, `content type ${type || '(none)'} is not documented for ${id}`];
  if (!type.includes('json')) return problems;
  return [...problems, ...validate(contract, id, media.schema, body)];
}

function checkBody(contract: Contract, schema: string, type: string, response: Response, body: string): string[] {
  const actual = (response.headers.get('content-type') ?? '').split(';')[0].trim();
  if (actual !== type) return [`content type ${actual || '(none)'}, expected ${type}`];
  return validate(contract, schema, { $ref: `#/components/schemas/${schema}` }, body);
}

function validate(contract: Contract, key: string, schema: Json, body: string): string[] {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return ['the body is not JSON'];
  }
  let check = contract.compiled.get(key);
  if (!check) {
    check = contract.ajv.compile(rewriteRefs(schema));
    contract.compiled.set(key, check);
  }
  if (check(value)) return [];
  return (check.errors ?? []).map((e) => `body${e.instancePath} ${e.message} (${e.schemaPath})`);
}

/** The document's path template that `path` (raw, percent-encoded) falls under; literal segments win. */
function matchPath(document: Json, path: string): string | undefined {
  const segments = path.split('/');
  let best: { template: string; literals: number } | undefined;
  for (const template of Object.keys(document.paths)) {
    const parts = template.split('/');
    if (parts.length !== segments.length) continue;
    let literals = 0;
    const matches = parts.every((part, i) => {
      if (/^\{[^}]+\}$/.test(part)) return segments[i].length > 0;
      literals++;
      return part === segments[i];
    });
    if (matches && (!best || literals > best.literals)) best = { template, literals };
  }
  return best?.template;
}

function resolve(document: Json, ref: string): Json {
  return ref
    .replace(/^#\//, '')
    .split('/')
    .reduce<Json>((node, key) => node[key], document);
}

/** Component references, `#/components/schemas/X`, as references into the schema registered above. */
function rewriteRefs<T>(node: T): T {
  return JSON.parse(
    JSON.stringify(node).replace(/"#\/components\/schemas\/([^"]+)"/g, '"tidemark:components#/$defs/$1"'),
  ) as T;
}

// The API as the dashboard calls it. The key the operator pasted lives in this tab's sessionStorage only; each
// answer's Date header tells the server's clock, so ages shown are right even when the browser's clock is not.

const KEY_STORAGE = 'tidemark.apiKey';

/** Server clock minus browser clock, from the last answer that had a Date header. */
let clockSkewMs = 0;

/** A non-2xx answer; `problem` is its problem document (null when the body was not JSON). */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export const isUnauthorized = (error) => error instanceof ApiError && error.status === 401;
export const isNotFound = (error) => error instanceof ApiError && error.status === 404;

export const hasApiKey = () => Boolean(sessionStorage.getItem(KEY_STORAGE));
export const saveApiKey = (key) => sessionStorage.setItem(KEY_STORAGE, key);
export const forgetApiKey = () => sessionStorage.removeItem(KEY_STORAGE);

export const serverNow = () => Date.now() + clockSkewMs;

/** The API path of one integration (the name is any text, so it is encoded). */
export const integrationPath = (sourceSystemId, name) => `/integrations/${sourceSystemId}/${encodeURIComponent(name)}`;

function requestHeaders(body, etag) {
  const headers = { accept: 'application/json' };
  const key = sessionStorage.getItem(KEY_STORAGE);
  if (key) headers.authorization = `Bearer ${key}`;
  if (etag) headers['if-none-match'] = etag;
  if (body !== undefined) headers['content-type'] = 'application/json';
  return headers;
}

/** Calls the API with the stored key; `etag` makes it conditional (answers { notModified: true } on 304). */
export async function api(path, { method = 'GET', body, etag } = {}) {
  const headers = requestHeaders(body, etag);
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const date = response.headers.get('date');
  if (date) clockSkewMs = Date.parse(date) - Date.now();
  if (response.status === 304) return { notModified: true, etag };
  const json = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, json);
  return { json, etag: response.headers.get('etag') };
}

/** What to tell the operator about a failed call: each invalid parameter's reason when the API named them. */
export function problemText(error) {
  const params = error.problem?.['invalid-params'];
  if (params?.length) return params.map((p) => `${p.name}: ${p.reason}`).join('; ');
  return error.message;
}

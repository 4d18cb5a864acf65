/**
 * How the client authenticates to the upstream: a static Authorization header (bearer, Basic, the base URL's
 * userinfo), or an access token from a token endpoint, fetched with client_credentials or Gravitate's password form
 * (cached by {@link ClientCredentialsTokenSource}).
 * Every credential is registered as a secret to scrub from messages.
 */
import { performance } from 'node:perf_hooks';
import type { RawAxiosRequestHeaders } from 'axios';
import { CallStop } from './call-stop';
import { UpstreamError, UpstreamTokenError } from './errors';
import { type Redactor, bodyText, headerText, statusText } from './error-text';
import { bodyExcerpt, parseAspNetError } from './integration-status.parser';
import { parseRetryAfter } from './retry-plan';
import { ClientCredentialsTokenSource, type FetchedToken } from './token-source';
import {
  DeadlineReason,
  type ExchangeResponse,
  type ExchangeStops,
  type Target,
  USER_AGENT,
  type UpstreamTransport,
  targetOf,
} from './transport';
import { DEFAULT_TOKEN_PATH, type ResolvedUpstreamOptions, type UpstreamAuth } from './upstream-options';

/** Largest token endpoint answer read, bytes. */
export const MAX_TOKEN_BODY_BYTES = 65_536;

/** The token request (client_credentials or password), built once. */
export interface TokenRequest {
  target: Target;
  body: string;
  headers: RawAxiosRequestHeaders;
}

/** The credentials of one client. */
export interface UpstreamCredentials {
  /** Static Authorization header (bearer, basic, URL userinfo); null for none and client_credentials. */
  authorization: string | null;
  /** The token request for client_credentials; null otherwise. */
  tokenRequest: TokenRequest | null;
}

/**
 * The credentials `options.auth` (and the base URL's userinfo) describe; their secrets are added to `redactor`.
 * @throws TypeError when they are incomplete or malformed (the message never includes them).
 */
export function credentialsOf(options: ResolvedUpstreamOptions, redactor: Redactor): UpstreamCredentials {
  const { auth, urlUserInfo } = options;
  const secrets = [urlUserInfo.user, urlUserInfo.password, ...urlUserInfo.raw];
  let credentials: UpstreamCredentials;
  if (auth.kind === 'bearer') {
    if (typeof auth.token !== 'string' || !/^[\x21-\x7e]+$/.test(auth.token)) {
      throw new TypeError('upstream bearer token must be non-empty visible ASCII (no spaces or line breaks)');
    }
    credentials = { authorization: `Bearer ${auth.token}`, tokenRequest: null };
    secrets.push(auth.token);
  } else if (auth.kind === 'basic') {
    const authorization = basicAuthorization(auth.username, auth.password);
    credentials = { authorization, tokenRequest: null };
    secrets.push(auth.password, authorization.slice('Basic '.length));
  } else if (auth.kind === 'none') {
    // Userinfo in the URL is what curl and browsers send as Basic credentials; honour it, but never in the URL
    // itself (a transport error could show it) and never in messages.
    const { user, password } = urlUserInfo;
    const authorization = user !== '' || password !== '' ? basicAuthorization(user, password) : null;
    credentials = { authorization, tokenRequest: null };
    if (authorization !== null) secrets.push(authorization.slice('Basic '.length));
  } else if (auth.kind === 'client_credentials') {
    credentials = { authorization: null, tokenRequest: tokenRequestOf(auth, options) };
    secrets.push(...spellingsOf(auth.clientSecret));
  } else if (auth.kind === 'password') {
    credentials = { authorization: null, tokenRequest: passwordTokenRequestOf(auth, options) };
    secrets.push(...spellingsOf(auth.password));
  } else {
    const kind = JSON.stringify(String((auth as { kind?: unknown }).kind)).slice(0, 40);
    throw new TypeError(
      `upstream auth.kind ${kind} is not supported (supported: "none", "bearer", "basic", "client_credentials") and is not "password" either`,
    );
  }
  redactor.add(secrets);
  return credentials;
}

/** The client_credentials access tokens of one client, fetched through its transport and cached. */
export class AccessTokens {
  private readonly source: ClientCredentialsTokenSource;

  /**
   * @param finish turns whatever a token request failed with into the UpstreamError to report (secrets scrubbed)
   */
  constructor(
    private readonly request: TokenRequest,
    private readonly transport: UpstreamTransport,
    private readonly redactor: Redactor,
    now: () => number,
    private readonly finish: (error: unknown) => UpstreamError,
  ) {
    this.source = new ClientCredentialsTokenSource((deadlineAt) => this.fetch(deadlineAt), now);
  }

  /**
   * A token for one attempt, waited for until the call stops (`stops.stop`), the attempt's own deadline passes
   * (`stops.timeoutMs`) or the caller cancels (`cancel`); a token request this attempt starts ends by `deadlineAt`.
   * @throws a copy of the token request's UpstreamError, or the stop's reason (a DeadlineReason or
   *   CallerAbortReason) when it stopped first
   */
  async forAttempt(
    stops: ExchangeStops,
    cancel: AbortSignal | CallStop | undefined,
    deadlineAt: number,
  ): Promise<string> {
    const attempt = new AbortController();
    const timer =
      stops.timeoutMs === undefined ? undefined : setTimeout(() => attempt.abort(stops.timeoutReason), stops.timeoutMs);
    const signal = AbortSignal.any([stops.stop.signal, attempt.signal]);
    try {
      const cancelSignal = cancel instanceof CallStop ? cancel.signal : cancel;
      const token = await this.source.get({ signal, cancel: cancelSignal, deadlineAt });
      this.redactor.add([token]);
      return token;
    } catch (error) {
      if (!(error instanceof UpstreamError)) throw signal.reason;
      // Every call that joined the same token request gets the same error object; each call writes its own attempts
      // and summary onto the error it ends with, so each gets a copy of its own.
      throw copyOfError(error);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Forgets `token` after the upstream refused it (401). */
  invalidate(token: string): void {
    this.source.invalidate(token);
  }

  /** One token request, bounded by `deadlineAt` (the deadline of the attempt that started it). */
  private async fetch(deadlineAt: number): Promise<FetchedToken> {
    const remainingMs = Math.max(0, deadlineAt - performance.now());
    const stops = {
      stop: new CallStop(),
      timeoutMs: remainingMs,
      timeoutReason: new DeadlineReason(Math.round(remainingMs)),
    };
    const { target, body, headers } = this.request;
    try {
      const response = await this.transport.exchange(
        target,
        { body, headers, maxBodyBytes: MAX_TOKEN_BODY_BYTES },
        stops,
        { requestSent: false, responseStarted: false },
      );
      return readTokenAnswer(response, target, this.redactor);
    } catch (error) {
      throw this.finish(error);
    }
  }
}

/**
 * The token from a token endpoint's answer; the raw and the bare token are added to `redactor`.
 * @throws UpstreamTokenError when the endpoint refused (non-2xx, with the OAuth2 `error` or the ASP.NET Message) or
 *   answered no usable access_token.
 */
export function readTokenAnswer(response: ExchangeResponse, target: Target, redactor: Redactor): FetchedToken {
  const head = `token endpoint ${target.hostPort} answered HTTP ${statusText(response.status)}`;
  const object = jsonObject(response.body);
  if (response.status < 200 || response.status > 299) {
    const oauthError = typeof object?.error === 'string' ? bodyExcerpt(redactor.scrub(object.error), 100) : undefined;
    const description =
      typeof object?.error_description === 'string'
        ? bodyExcerpt(redactor.scrub(object.error_description), 200)
        : undefined;
    const aspNet = object === null ? null : parseAspNetError(response.body, 'application/json');
    const detail =
      oauthError !== undefined
        ? `: ${oauthError}${description ? ` (${description})` : ''}`
        : aspNet?.message !== undefined
          ? `: Message: ${bodyExcerpt(redactor.scrub(aspNet.message), 200)}`
          : response.body.length === 0
            ? ' with an empty body'
            : `; body: ${bodyText(response.body, 4096, 200, redactor)}`;
    const retryAfterMs = parseRetryAfter(headerText(response.headers['retry-after']), Date.now());
    throw new UpstreamTokenError(`${head}${detail}`, {
      httpStatus: response.status,
      ...(oauthError === undefined ? {} : { oauthError }),
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
  const rawToken = object?.access_token;
  if (typeof rawToken !== 'string') {
    throw new UpstreamTokenError(
      `${head} without an access_token${object === null ? ' (the body is not a JSON object)' : ''}`,
      { httpStatus: response.status },
    );
  }
  const value = rawToken.replace(/^\s*bearer\s+/i, '').trim();
  redactor.add([rawToken, value]);
  if (!/^[\x21-\x7e]+$/.test(value)) {
    throw new UpstreamTokenError(`${head} with an access_token that is empty or not visible ASCII`, {
      httpStatus: response.status,
    });
  }
  const expiresIn = object!.expires_in;
  const seconds =
    typeof expiresIn === 'number'
      ? expiresIn
      : typeof expiresIn === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(expiresIn)
        ? Number(expiresIn)
        : NaN;
  return { value, expiresInSeconds: Number.isFinite(seconds) && seconds >= 0 ? seconds : null };
}

function tokenRequestOf(
  auth: Extract<UpstreamAuth, { kind: 'client_credentials' }>,
  options: ResolvedUpstreamOptions,
): TokenRequest {
  if (typeof auth.clientId !== 'string' || auth.clientId === '') {
    throw new TypeError('upstream client_credentials needs a clientId');
  }
  if (typeof auth.clientSecret !== 'string' || auth.clientSecret === '') {
    throw new TypeError('upstream client_credentials needs a clientSecret');
  }
  const format = auth.requestFormat ?? 'json';
  if (format !== 'json' && format !== 'form') {
    throw new TypeError(
      `upstream client_credentials requestFormat must be "json" or "form", got ${JSON.stringify(String(format)).slice(0, 40)}`,
    );
  }
  const grantType = auth.grantType ?? 'client_credentials';
  if (typeof grantType !== 'string' || !/^[\x21-\x7e]*$/.test(grantType)) {
    throw new TypeError('upstream client_credentials grantType must be visible ASCII without spaces, or empty');
  }
  // grant_type is what RFC 6749 (4.4.2) requires of an OAuth2 server; Gravitate's endpoints read only
  // client_id/client_secret/scope, and some refuse a grant_type they do not expect, hence the empty choice.
  const fields: Array<[string, string]> = grantType === '' ? [] : [['grant_type', grantType]];
  fields.push(['client_id', auth.clientId], ['client_secret', auth.clientSecret]);
  if (typeof auth.scope === 'string' && auth.scope !== '') fields.push(['scope', auth.scope]);
  return tokenRequestWith(tokenTargetOf(auth.tokenUrl, 'client_credentials', options), fields, format);
}

/** Gravitate's password dialect: a form `{username, password, scope}` and no grant_type. */
function passwordTokenRequestOf(
  auth: Extract<UpstreamAuth, { kind: 'password' }>,
  options: ResolvedUpstreamOptions,
): TokenRequest {
  if (typeof auth.username !== 'string' || auth.username === '') {
    throw new TypeError('upstream password auth needs a username');
  }
  if (typeof auth.password !== 'string' || auth.password === '') {
    throw new TypeError('upstream password auth needs a password');
  }
  const fields: Array<[string, string]> = [
    ['username', auth.username],
    ['password', auth.password],
  ];
  if (typeof auth.scope === 'string' && auth.scope !== '') fields.push(['scope', auth.scope]);
  return tokenRequestWith(tokenTargetOf(auth.tokenUrl, 'password', options), fields, 'form');
}

function tokenRequestWith(target: Target, fields: Array<[string, string]>, format: 'json' | 'form'): TokenRequest {
  const [body, contentType] =
    format === 'json'
      ? [JSON.stringify(Object.fromEntries(fields)), 'application/json; charset=utf-8']
      : [new URLSearchParams(fields).toString(), 'application/x-www-form-urlencoded'];
  return {
    target,
    body,
    headers: { 'content-type': contentType, accept: 'application/json', 'user-agent': USER_AGENT },
  };
}

function tokenTargetOf(tokenUrl: string | null | undefined, kind: string, options: ResolvedUpstreamOptions): Target {
  if (tokenUrl === undefined || tokenUrl === null || tokenUrl === '') {
    return targetOf(new URL(`${options.baseUrl}${DEFAULT_TOKEN_PATH}`));
  }
  let url: URL;
  try {
    url = new URL(tokenUrl);
  } catch {
    throw new TypeError(`upstream ${kind} tokenUrl is not an absolute URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`upstream ${kind} tokenUrl must be http:// or https://, got ${url.protocol}`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new TypeError(`upstream ${kind} tokenUrl must not contain credentials`);
  }
  return targetOf(url);
}

/** A secret as it can appear in a token request body or an echo of it: raw, URL-, form- and JSON-encoded. */
function spellingsOf(secret: string): string[] {
  return [
    secret,
    encodeURIComponent(secret),
    new URLSearchParams([['', secret]]).toString().slice(1),
    JSON.stringify(secret).slice(1, -1),
  ];
}

function basicAuthorization(username: string, password: string): string {
  if (typeof username !== 'string' || typeof password !== 'string') {
    throw new TypeError('upstream basic auth needs a username and a password');
  }
  if (username.includes(':')) throw new TypeError('upstream basic auth username must not contain ":" (RFC 7617)');
  if (/[\u0000-\u001f\u007f]/.test(username + password)) {
    throw new TypeError('upstream basic auth username and password must not contain control characters');
  }
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

/** A shallow copy of `error`: same class, message, stack and fields, a different object. */
function copyOfError<E extends Error>(error: E): E {
  return Object.create(Object.getPrototypeOf(error) as object, Object.getOwnPropertyDescriptors(error)) as E;
}

/** The body as a JSON object; null when it is not one (or not UTF-8 JSON at all). */
function jsonObject(body: Buffer): Record<string, unknown> | null {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch {
    return null;
  }
  return typeof json === 'object' && json !== null && !Array.isArray(json) ? (json as Record<string, unknown>) : null;
}

/**
 * The auth the simulated upstream demands on IntegrationStart (none, a fixed bearer token, HTTP Basic, OAuth2
 * client_credentials, or Gravitate's password form) and its token endpoint, which issues tokens that expire by the
 * simulator clock.
 */
import { randomBytes } from 'node:crypto';
import type * as http from 'node:http';
import { isJsonMediaType, mediaTypeOf, readBody, sendJson } from './routing';

/** Auth the simulated endpoint demands. */
export interface SimulatorAuthConfig {
  mode: 'none' | 'bearer' | 'basic' | 'client_credentials' | 'password';
  /** `bearer`: the one accepted token. */
  token?: string;
  /** `basic` and `password`: credentials (`password` reads them from a form `{username, password, scope}`). */
  username?: string;
  password?: string;
  /** `client_credentials`: client accepted by the token endpoint. */
  clientId?: string;
  clientSecret?: string;
  /** `client_credentials`: lifetime of issued tokens in seconds, by the simulator clock; default 3600. */
  tokenTtlSeconds?: number;
  /** Token modes: answer `access_token` as `"Bearer xyz"` (Gravitate does; clients must not send "Bearer Bearer"). */
  prefixBearer?: boolean;
  /** Token modes: the only body format the token endpoint reads; absent reads both. */
  tokenRequestFormat?: 'json' | 'form';
  /** Token modes: refuse a token request that carries a `grant_type` (a server that reads none and trips on it). */
  refuseGrantType?: boolean;
  /** Token modes: leave `expires_in` out of the answer (tokens still expire after `tokenTtlSeconds`). */
  omitExpiresIn?: boolean;
}

/** One request the token endpoint received, as read. */
export interface SimulatorTokenRequest {
  path: string;
  /** Media type of the body, lower-cased. */
  mediaType: string;
  /** The body's fields (form or JSON strings), in the order sent. */
  fields: Array<[string, string]>;
}

const REALM = 'tidemark-simulator';
const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };

/** The auth configuration, the tokens issued under it (token → expiry in clock ns) and the token requests seen. */
export class SimulatorAuth {
  private config: SimulatorAuthConfig = { mode: 'none' };
  private readonly tokens = new Map<string, bigint>();
  private tokenRequestCount = 0;
  /** Token requests received, oldest first; cleared by `reset()`. */
  readonly tokenRequestLog: SimulatorTokenRequest[] = [];

  /** @param clock wall clock, ns since the Unix epoch; tokens expire by it. */
  constructor(private readonly clock: () => bigint) {}

  get mode(): SimulatorAuthConfig['mode'] {
    return this.config.mode;
  }

  /** Token endpoint requests (successful or not) since construction or `reset()`. */
  get tokenRequests(): number {
    return this.tokenRequestCount;
  }

  /**
   * Sets the auth IntegrationStart demands and drops issued tokens.
   * @throws TypeError when the mode's credentials are missing; the previous configuration stays then.
   */
  configure(config: SimulatorAuthConfig): void {
    const need = (names: Array<keyof SimulatorAuthConfig>) => {
      for (const n of names)
        if (typeof config[n] !== 'string') throw new TypeError(`auth mode ${config.mode} needs ${n}`);
    };
    if (config.mode === 'bearer') need(['token']);
    else if (config.mode === 'basic') need(['username', 'password']);
    else if (config.mode === 'client_credentials') need(['clientId', 'clientSecret']);
    else if (config.mode === 'password') need(['username', 'password']);
    else if (config.mode !== 'none') throw new TypeError(`unknown auth mode ${String(config.mode)}`);
    if (config.tokenTtlSeconds !== undefined && !(config.tokenTtlSeconds >= 0))
      throw new TypeError('tokenTtlSeconds must be >= 0');
    this.config = { ...config };
    this.tokens.clear();
  }

  /** Invalidates every issued token. */
  expireTokens(): void {
    this.tokens.clear();
  }

  /** Back to mode `none`, no tokens, no token requests counted. */
  reset(): void {
    this.config = { mode: 'none' };
    this.tokens.clear();
    this.tokenRequestCount = 0;
    this.tokenRequestLog.length = 0;
  }

  /** The WWW-Authenticate challenge when the request is not authorised, else undefined. */
  challenge(req: http.IncomingMessage): string | undefined {
    const { mode } = this.config;
    if (mode === 'none') return undefined;
    const header = req.headers.authorization ?? '';
    if (mode === 'basic') {
      const m = /^Basic\s+(\S+)\s*$/i.exec(header);
      const expected = `${this.config.username}:${this.config.password}`;
      if (m && Buffer.from(m[1], 'base64').toString('utf8') === expected) return undefined;
      return `Basic realm="${REALM}"`;
    }
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (m) {
      if (mode === 'bearer' && m[1] === this.config.token) return undefined;
      if (mode === 'client_credentials' || mode === 'password') {
        const expires = this.tokens.get(m[1]);
        if (expires !== undefined && this.clock() < expires) return undefined;
      }
      return `Bearer realm="${REALM}", error="invalid_token"`;
    }
    return `Bearer realm="${REALM}"`;
  }

  /**
   * The token endpoint: a client_credentials grant (form-encoded or JSON, client authenticated in the body or Basic)
   * or Gravitate's password form `{username, password, scope}`, with or without a grant_type.
   */
  async handleTokenRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.tokenRequestCount += 1;
    const raw = (await readBody(req)).toString('utf8');
    const mediaType = mediaTypeOf(req.headers['content-type']);
    const fields = readTokenFields(raw, req);
    if (typeof fields === 'string') {
      return sendJson(res, 400, { error: 'invalid_request', error_description: fields });
    }
    this.tokenRequestLog.push({
      path: new URL(req.url ?? '/', 'http://simulator').pathname,
      mediaType,
      fields: [...fields],
    });
    const refusal = this.tokenRefusal(fields, mediaType);
    if (refusal !== null) return sendJson(res, 400, refusal, NO_STORE);
    const ttl = this.config.tokenTtlSeconds ?? 3600;
    const token = `sim-${randomBytes(18).toString('base64url')}`;
    this.tokens.set(token, this.clock() + BigInt(Math.round(ttl * 1e9)));
    const answer: Record<string, unknown> = {
      access_token: this.config.prefixBearer ? `Bearer ${token}` : token,
      token_type: 'bearer',
    };
    if (!this.config.omitExpiresIn) answer.expires_in = ttl;
    const scope = fields.get('scope');
    if (scope !== undefined) answer.scope = scope;
    sendJson(res, 200, answer, NO_STORE);
  }

  /** The OAuth2 error answer for a token request this configuration refuses, or null to issue a token. */
  private tokenRefusal(fields: Map<string, string>, mediaType: string): Record<string, string> | null {
    const { mode, tokenRequestFormat, refuseGrantType } = this.config;
    const format = mediaType === 'application/x-www-form-urlencoded' ? 'form' : 'json';
    if (tokenRequestFormat !== undefined && format !== tokenRequestFormat) {
      return { error: 'invalid_request', error_description: `The body must be ${tokenRequestFormat}.` };
    }
    const grant = fields.get('grant_type');
    if (
      grant !== undefined &&
      (refuseGrantType || grant !== (mode === 'password' ? 'password' : 'client_credentials'))
    ) {
      return { error: 'unsupported_grant_type' };
    }
    if (mode === 'client_credentials') {
      const ok =
        fields.get('client_id') === this.config.clientId && fields.get('client_secret') === this.config.clientSecret;
      return ok ? null : { error: 'invalid_client' };
    }
    if (mode === 'password') {
      const ok = fields.get('username') === this.config.username && fields.get('password') === this.config.password;
      return ok ? null : { error: 'invalid_grant' };
    }
    return { error: 'unauthorized_client' };
  }
}

/** The token request's fields, or the `error_description` of why the body cannot be read. */
function readTokenFields(raw: string, req: http.IncomingMessage): Map<string, string> | string {
  const mt = mediaTypeOf(req.headers['content-type']);
  const fields = new Map<string, string>();
  if (mt === 'application/x-www-form-urlencoded') {
    for (const [name, value] of new URLSearchParams(raw)) fields.set(name, value);
  } else if (isJsonMediaType(mt)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      return 'The body is not valid JSON.';
    }
    if (typeof parsed !== 'object' || parsed === null) return 'The body must be a JSON object.';
    for (const [name, value] of Object.entries(parsed)) if (typeof value === 'string') fields.set(name, value);
  } else {
    return `Unsupported content type '${mt}'.`;
  }
  // RFC 6749 2.3.1 also allows the client to authenticate with HTTP Basic.
  const basic = /^Basic\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  if (basic && !fields.has('client_id')) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon >= 0) {
      fields.set('client_id', decodeURIComponent(decoded.slice(0, colon)));
      fields.set('client_secret', decodeURIComponent(decoded.slice(colon + 1)));
    }
  }
  return fields;
}

import { Inject, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { APP_CONFIG, type AppConfig } from '../../config';
import type { Scope } from './access.decorators';
import { ApiKeyAuthenticator } from './api-key.authenticator';

/** The actor recorded for actions taken without a key (auth disabled, or demo mode without API_KEYS). */
export const ANONYMOUS_ACTOR = 'anonymous';

/** Who a request is, as the dashboard needs to know and the audit trail records. */
export interface Caller {
  /** The API key's name, or `anonymous` when none is needed and none was sent. */
  name: string;
  /** What the caller may do: the key's scopes, or every scope when auth is disabled. */
  scopes: Scope[];
  /** Whether the API asks for a key at all. */
  authRequired: boolean;
}

/** Names the caller of a request that the access guard has let through (the same authenticator, memoized). */
@Injectable()
export class CallerResolver {
  constructor(
    private readonly authenticator: ApiKeyAuthenticator,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  callerOf(request: FastifyRequest): Caller {
    const credential = this.authenticator.identify(request);
    const authRequired = !this.config.access.authDisabled;
    if (credential.kind === 'key') {
      return {
        name: credential.key.name,
        scopes: authRequired ? [...credential.key.scopes] : ['read', 'operate'],
        authRequired,
      };
    }
    return { name: ANONYMOUS_ACTOR, scopes: ['read', 'operate'], authRequired };
  }

  /** The audit actor of a request: the API key's name, or `anonymous`. */
  actorOf(request: FastifyRequest): string {
    return this.callerOf(request).name;
  }
}

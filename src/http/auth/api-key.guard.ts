import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { PinoLogger } from 'nestjs-pino';
import { APP_CONFIG, type AppConfig } from '../../config';
import { PUBLIC_ROUTE, PUBLIC_WHEN, REQUIRED_SCOPE, type Scope } from './access.decorators';
import { ApiKeyAuthenticator } from './api-key.authenticator';

/**
 * The global access guard: every route needs a key with `read`, or the scope named by `@RequireScope`, except
 * `@Public()` routes, `@PublicWhen()` routes while their switch is on, and everything when auth is disabled.
 * The key's name is added to the request's log lines as `apiKeyName`.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly authenticator: ApiKeyAuthenticator,
    private readonly logger: PinoLogger,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (context.getType() !== 'http') return true;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;
    const publicWhen = this.reflector.getAllAndOverride<'metrics' | 'docs' | undefined>(PUBLIC_WHEN, targets);
    if (publicWhen === 'metrics' && this.config.access.metricsPublic) return true;
    if (publicWhen === 'docs' && this.config.access.docsPublic) return true;
    if (this.config.access.authDisabled) return true;
    const scope = this.reflector.getAllAndOverride<Scope | undefined>(REQUIRED_SCOPE, targets) ?? 'read';
    const principal = this.authenticator.authorize(context.switchToHttp().getRequest<FastifyRequest>(), scope);
    try {
      this.logger.assign({ apiKeyName: principal.name });
    } catch {
      // outside a request logging context (none in production): the name just isn't logged
    }
    return true;
  }
}

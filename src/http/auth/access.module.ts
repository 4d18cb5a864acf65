import { Inject, Logger, Module, type DynamicModule, type OnApplicationBootstrap } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import type { FastifyRequest } from 'fastify';
import { APP_CONFIG, type AppConfig } from '../../config';
import { ApiKeyAuthenticator } from './api-key.authenticator';
import { ApiKeyGuard } from './api-key.guard';
import { BucketedThrottlerStorage } from './bucketed-throttler-storage';
import { RateLimitGuard } from './rate-limit.guard';

const MINUTE_MS = 60_000;

/**
 * Access control for the facade: API keys with scopes (ApiKeyGuard) and per-caller rate limiting
 * (RateLimitGuard, @nestjs/throttler).
 *
 * The rate limiter runs first and counts per key name (every route together), or per client IP for requests
 * without a recognised key, so that guessing keys is throttled too. Its counters live in this replica's memory:
 * with N replicas behind a load balancer a key gets up to N x RATE_LIMIT_PER_MINUTE.
 */
@Module({})
export class AccessModule implements OnApplicationBootstrap {
  private readonly logger = new Logger('Access');

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  static forRoot(config: AppConfig): DynamicModule {
    const authenticator = new ApiKeyAuthenticator(config.access.apiKeys);
    return {
      module: AccessModule,
      global: true,
      imports: [
        ThrottlerModule.forRoot({
          throttlers: [{ name: 'default', ttl: MINUTE_MS, limit: config.access.rateLimitPerMinute }],
          // Constant time per request; the stock storage filters every hit of the window on each request.
          storage: new BucketedThrottlerStorage(),
          getTracker: (raw: Record<string, unknown>) => {
            const req = raw as unknown as FastifyRequest;
            const credential = authenticator.identify(req);
            return credential.kind === 'key' ? `key:${credential.key.name}` : `ip:${req.ip}`;
          },
          generateKey: (_context, tracker, name) => `${name}:${tracker}`,
          // Only a refused request says anything (429 with Retry-After, RateLimitGuard; docs/operations.md):
          // X-RateLimit-Limit, -Remaining and -Reset would add three header lines to every allowed answer.
          setHeaders: false,
        }),
      ],
      providers: [
        { provide: ApiKeyAuthenticator, useValue: authenticator },
        // Guards run in this order.
        { provide: APP_GUARD, useClass: RateLimitGuard },
        { provide: APP_GUARD, useClass: ApiKeyGuard },
      ],
      exports: [ApiKeyAuthenticator],
    };
  }

  onApplicationBootstrap(): void {
    const { level, message } = authBootLine(this.config);
    if (level === 'warn') this.logger.warn(message);
    else this.logger.log(message);
  }
}

/** The boot log line that says how facade requests are authenticated, and so which variable decided it. */
export function authBootLine(config: Pick<AppConfig, 'authMode' | 'access'>): {
  level: 'info' | 'warn';
  message: string;
} {
  const keys = config.access.apiKeys;
  switch (config.authMode) {
    case 'keys':
      return {
        level: 'info',
        message: `API_KEYS: ${keys.length} key${keys.length === 1 ? '' : 's'} loaded (${keys.map((k) => k.name).join(', ')}); every route but the public ones needs one`,
      };
    case 'disabled':
      return { level: 'warn', message: 'AUTH_DISABLED=true: the facade answers everyone without a key' };
    case 'open_demo':
      return {
        level: 'warn',
        message: 'no API_KEYS: the facade answers everyone without a key (set API_KEYS; npm run apikey makes one)',
      };
  }
}

import {
  type DynamicModule,
  type InjectionToken,
  type ModuleMetadata,
  Module,
  type OptionalFactoryDependency,
} from '@nestjs/common';
import { UpstreamBreakerRegistry } from './breaker';
import { UPSTREAM_CLIENT_OPTIONS, UpstreamClient, type UpstreamClientOptions } from './upstream.client';

/** Options of {@link UpstreamModule.registerAsync}. */
export interface UpstreamModuleAsyncOptions {
  imports?: ModuleMetadata['imports'];
  inject?: Array<InjectionToken | OptionalFactoryDependency>;
  useFactory: (...args: never[]) => UpstreamClientOptions | Promise<UpstreamClientOptions>;
}

/**
 * Provides {@link UpstreamClient}, the only code that calls the upstream, and the
 * {@link UpstreamBreakerRegistry} holding its circuit breaker (one registry per registration, so
 * two apps in one process, e.g. in tests, never share breaker state).
 *
 * The client owns its HTTP connection pool (undici), so nothing set elsewhere in the process (a global
 * dispatcher, proxies) changes how the upstream is called.
 */
@Module({})
export class UpstreamModule {
  /** @param options see {@link UpstreamClientOptions}; validated when the client is created. */
  static register(options: UpstreamClientOptions): DynamicModule {
    return {
      module: UpstreamModule,
      providers: [{ provide: UPSTREAM_CLIENT_OPTIONS, useValue: options }, UpstreamBreakerRegistry, UpstreamClient],
      exports: [UpstreamClient, UpstreamBreakerRegistry],
    };
  }

  /** Like {@link register}, with the options made by a factory (e.g. from a config provider). */
  static registerAsync(options: UpstreamModuleAsyncOptions): DynamicModule {
    return {
      module: UpstreamModule,
      imports: options.imports ?? [],
      providers: [
        {
          provide: UPSTREAM_CLIENT_OPTIONS,
          useFactory: options.useFactory as (
            ...args: unknown[]
          ) => UpstreamClientOptions | Promise<UpstreamClientOptions>,
          inject: options.inject ?? [],
        },
        UpstreamBreakerRegistry,
        UpstreamClient,
      ],
      exports: [UpstreamClient, UpstreamBreakerRegistry],
    };
  }
}

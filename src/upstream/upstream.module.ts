import { HttpModule } from '@nestjs/axios';
import {
  type DynamicModule,
  type InjectionToken,
  type ModuleMetadata,
  Module,
  type OptionalFactoryDependency,
  type Provider,
} from '@nestjs/common';
import { UpstreamBreakerRegistry } from './breaker';
import { upstreamAxiosConfig } from './transport';
import { createUpstreamAgents } from './upstream-agents';
import { UpstreamClient } from './upstream.client';
import { UPSTREAM_CLIENT_OPTIONS, type UpstreamClientOptions, connectTimeoutOf } from './upstream-options';

/** Options of {@link UpstreamModule.registerAsync}. */
export interface UpstreamModuleAsyncOptions {
  imports?: ModuleMetadata['imports'];
  inject?: Array<InjectionToken | OptionalFactoryDependency>;
  useFactory: (...args: never[]) => UpstreamClientOptions | Promise<UpstreamClientOptions>;
}

/** Holds the client's options, for the client and for the HttpModule that builds the client's axios instance. */
@Module({})
class UpstreamOptionsModule {}

/**
 * Provides {@link UpstreamClient}, the only code that calls the upstream, the {@link UpstreamBreakerRegistry} holding
 * its circuit breaker, and the `@nestjs/axios` HttpModule the client calls through, configured from the client's
 * options. Each registration (each app) has its own registry and its own axios instance with its own keep-alive
 * agents, so two apps in one process (tests) never share breaker state or connections. The settings the client's
 * guarantees rest on (no proxy, no redirects, raw bytes, the body cap) are set on every request as well, so nothing
 * set elsewhere in the process (axios defaults, proxy variables) changes them.
 */
@Module({})
export class UpstreamModule {
  /** @param options see {@link UpstreamClientOptions}; validated when the client is created. */
  static register(options: UpstreamClientOptions): DynamicModule {
    return UpstreamModule.with({
      imports: [],
      optionsProvider: { provide: UPSTREAM_CLIENT_OPTIONS, useValue: options },
    });
  }

  /** Like {@link register}, with the options made by a factory (e.g. from a config provider). */
  static registerAsync(options: UpstreamModuleAsyncOptions): DynamicModule {
    return UpstreamModule.with({
      imports: options.imports ?? [],
      optionsProvider: {
        provide: UPSTREAM_CLIENT_OPTIONS,
        useFactory: options.useFactory as (
          ...args: unknown[]
        ) => UpstreamClientOptions | Promise<UpstreamClientOptions>,
        inject: options.inject ?? [],
      },
    });
  }

  private static with(setup: { imports: ModuleMetadata['imports']; optionsProvider: Provider }): DynamicModule {
    const optionsModule: DynamicModule = {
      module: UpstreamOptionsModule,
      imports: setup.imports,
      providers: [setup.optionsProvider],
      exports: [UPSTREAM_CLIENT_OPTIONS],
    };
    return {
      module: UpstreamModule,
      imports: [
        optionsModule,
        HttpModule.registerAsync({
          imports: [optionsModule],
          inject: [UPSTREAM_CLIENT_OPTIONS],
          useFactory: (options: UpstreamClientOptions) =>
            upstreamAxiosConfig(createUpstreamAgents(connectTimeoutOf(options))),
        }),
      ],
      providers: [UpstreamBreakerRegistry, UpstreamClient],
      exports: [UpstreamClient, UpstreamBreakerRegistry],
    };
  }
}

import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { isStoppedByCaller } from '../upstream/http-exchange';
import { UpstreamClient } from '../upstream/upstream.client';
import { MetricsService } from './metrics.service';

const INTEGRATION_START = /\/api\/integration\/IntegrationStatus\/IntegrationStart$/i;

/** The fields of undici's diagnostics-channel request objects read here. */
interface UndiciRequest {
  origin?: unknown;
  path?: unknown;
}

/**
 * Times every IntegrationStart HTTP exchange into `tidemark_upstream_request_duration_seconds{status}` from undici's
 * diagnostics channels (`undici:request:create`, `:headers`, `:trailers` when the body is complete, `:error`), which
 * the upstream client's transport publishes for every request: the time is the whole exchange, body included. Observing at the HTTP layer counts each attempt, however retries are arranged above
 * it, and keeps this out of the upstream client's code. Only requests to this app's upstream origin are timed, so
 * two apps in one process (tests) never count each other's; the token endpoint is not timed.
 * Status label: the HTTP status, `aborted` (a deadline, shutdown or the body size limit stopped it) or
 * `network_error`.
 */
@Injectable()
export class UpstreamRequestMetrics implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('Metrics');
  private readonly startedAt = new WeakMap<object, number>();
  /** The status of a request whose headers arrived, until its body is complete. */
  private readonly statusOf = new WeakMap<object, number>();
  private origin: string | null = null;
  private readonly onCreate = (message: unknown) => {
    const { request } = message as { request: UndiciRequest };
    if (request.origin === this.origin && typeof request.path === 'string' && INTEGRATION_START.test(request.path)) {
      this.startedAt.set(request, performance.now());
    }
  };
  private readonly onHeaders = (message: unknown) => {
    const { request, response } = message as { request: UndiciRequest; response: { statusCode: number } };
    if (this.startedAt.has(request)) this.statusOf.set(request, response.statusCode);
  };
  private readonly onComplete = (message: unknown) => {
    const { request } = message as { request: UndiciRequest };
    const status = this.statusOf.get(request);
    if (status !== undefined) this.observe(request, String(status));
  };
  private readonly onError = (message: unknown) => {
    const { request, error } = message as { request: UndiciRequest; error: unknown };
    this.observe(request, isStoppedByCaller(error) ? 'aborted' : 'network_error');
  };

  constructor(
    private readonly moduleRef: ModuleRef,
    private readonly metrics: MetricsService,
  ) {}

  onModuleInit(): void {
    let client: UpstreamClient;
    try {
      // The upstream module keeps its client's internals private; `strict: false` finds the client itself.
      client = this.moduleRef.get(UpstreamClient, { strict: false });
    } catch {
      this.logger.warn('no UpstreamClient found: tidemark_upstream_request_duration_seconds stays empty');
      return;
    }
    this.origin = new URL(client.baseUrl).origin;
    subscribe('undici:request:create', this.onCreate);
    subscribe('undici:request:headers', this.onHeaders);
    subscribe('undici:request:trailers', this.onComplete);
    subscribe('undici:request:error', this.onError);
  }

  onModuleDestroy(): void {
    if (this.origin === null) return;
    unsubscribe('undici:request:create', this.onCreate);
    unsubscribe('undici:request:headers', this.onHeaders);
    unsubscribe('undici:request:trailers', this.onComplete);
    unsubscribe('undici:request:error', this.onError);
  }

  private observe(request: object, status: string): void {
    const started = this.startedAt.get(request);
    if (started === undefined) return;
    this.startedAt.delete(request);
    this.statusOf.delete(request);
    this.metrics.upstreamRequestDuration.observe({ status }, (performance.now() - started) / 1000);
  }
}

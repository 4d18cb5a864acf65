import { performance } from 'node:perf_hooks';
import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { isStoppedOnPurpose } from '../upstream/transport';
import { UpstreamClient } from '../upstream/upstream.client';
import { MetricsService } from './metrics.service';

const INTEGRATION_START = /\/api\/integration\/IntegrationStatus\/IntegrationStart$/i;

/** What the interceptors read of an axios request configuration. */
interface RequestConfig {
  url?: string;
}

/**
 * Times every IntegrationStart HTTP exchange into `tidemark_upstream_request_duration_seconds{status}` with
 * interceptors on the axios instance of the upstream client's HttpService: from the request interceptor to the
 * response interceptor, which runs once the whole body is read, so the time is the whole exchange. Observing at the
 * HTTP layer counts each attempt, however retries are arranged above it, and keeps this out of the client's code.
 * The axios instance is the upstream module's own, so two apps in one process (tests) never count each other's
 * requests; the token endpoint is not timed.
 * Status label: the HTTP status, `aborted` (a deadline, shutdown or the body size limit stopped it) or
 * `network_error`.
 */
@Injectable()
export class UpstreamRequestMetrics implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('Metrics');
  private readonly startedAt = new WeakMap<object, number>();
  private eject: (() => void) | null = null;

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
    const interceptors = client.http.axiosRef.interceptors;
    const requestId = interceptors.request.use(
      (config) => {
        this.startedAt.set(config, performance.now());
        return config;
      },
      undefined,
      { synchronous: true, runWhen: (config) => isIntegrationStart(config) },
    );
    const responseId = interceptors.response.use(
      (response) => {
        this.observe(response.config, String(response.status));
        return response;
      },
      (error: unknown): never => {
        const config = (error as { config?: unknown } | null)?.config;
        if (typeof config === 'object' && config !== null) {
          this.observe(config, isStoppedOnPurpose(error) ? 'aborted' : 'network_error');
        }
        throw error;
      },
    );
    this.eject = () => {
      interceptors.request.eject(requestId);
      interceptors.response.eject(responseId);
    };
  }

  onModuleDestroy(): void {
    this.eject?.();
    this.eject = null;
  }

  private observe(config: object, status: string): void {
    const started = this.startedAt.get(config);
    if (started === undefined) return;
    this.startedAt.delete(config);
    this.metrics.upstreamRequestDuration.observe({ status }, (performance.now() - started) / 1000);
  }
}

function isIntegrationStart(config: RequestConfig): boolean {
  return typeof config.url === 'string' && INTEGRATION_START.test(config.url);
}

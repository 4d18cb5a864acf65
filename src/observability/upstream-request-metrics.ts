import { HttpService } from '@nestjs/axios';
import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { isAxiosError, isCancel, type AxiosResponse, type InternalAxiosRequestConfig } from 'axios';
import { MetricsService } from './metrics.service';

const INTEGRATION_START = /\/api\/integration\/IntegrationStatus\/IntegrationStart$/i;

/**
 * Times every IntegrationStart HTTP exchange into `tidemark_upstream_request_duration_seconds{status}` with axios
 * interceptors on the upstream client's HttpService. Observing at the HTTP layer counts each attempt, however
 * retries are arranged above it, and keeps this out of the upstream client's code. Other requests on that axios
 * instance (the token endpoint) are not timed here.
 */
@Injectable()
export class UpstreamRequestMetrics implements OnModuleInit {
  private readonly logger = new Logger('Metrics');
  private readonly startedAt = new WeakMap<object, number>();

  constructor(
    private readonly moduleRef: ModuleRef,
    private readonly metrics: MetricsService,
  ) {}

  onModuleInit(): void {
    let http: HttpService;
    try {
      // The upstream module keeps its HttpService private; `strict: false` finds it without widening its exports.
      http = this.moduleRef.get(HttpService, { strict: false });
    } catch {
      this.logger.warn('no HttpService found: tidemark_upstream_request_duration_seconds stays empty');
      return;
    }
    http.axiosRef.interceptors.request.use((config: InternalAxiosRequestConfig) => {
      if (INTEGRATION_START.test(config.url ?? '')) this.startedAt.set(config, performance.now());
      return config;
    });
    http.axiosRef.interceptors.response.use(
      (response: AxiosResponse) => {
        this.observe(response.config, String(response.status));
        return response;
      },
      (error: unknown) => {
        if (isAxiosError(error) && error.config) {
          this.observe(error.config, error.response ? String(error.response.status) : isCancel(error) || error.code === 'ERR_CANCELED' ? 'aborted' : 'network_error');
        }
        throw error;
      },
    );
  }

  private observe(config: object, status: string): void {
    const started = this.startedAt.get(config);
    if (started === undefined) return;
    this.startedAt.delete(config);
    this.metrics.upstreamRequestDuration.observe({ status }, (performance.now() - started) / 1000);
  }
}

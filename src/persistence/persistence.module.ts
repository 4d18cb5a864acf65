import { Global, Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { AuditRepository } from './audit.repository';
import { ClaimsRepository } from './claims.repository';
import { TIDEMARK_DATA_SOURCE } from './data-source';
import { IntegrationsRepository } from './integrations.repository';
import { MetricsRepository } from './metrics.repository';
import { PauseRepository } from './pause.repository';
import { RunHistoryRepository } from './run-history.repository';
import { RunsRepository } from './runs.repository';

const REPOSITORIES = [
  IntegrationsRepository,
  RunsRepository,
  ClaimsRepository,
  MetricsRepository,
  AuditRepository,
  PauseRepository,
  RunHistoryRepository,
];

/** Provides the repositories over a DataSource that bootstrap has already connected and migrated. */
@Global()
@Module({})
export class PersistenceModule implements OnApplicationShutdown {
  constructor(@Inject(TIDEMARK_DATA_SOURCE) private readonly dataSource: DataSource) {}

  static forDataSource(dataSource: DataSource): DynamicModule {
    return {
      module: PersistenceModule,
      providers: [{ provide: TIDEMARK_DATA_SOURCE, useValue: dataSource }, ...REPOSITORIES],
      exports: [...REPOSITORIES, TIDEMARK_DATA_SOURCE],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

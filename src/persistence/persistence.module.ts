import { Global, Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { AuditRepository } from './audit.repository';
import { MetricsRepository } from './metrics.repository';
import { PauseRepository } from './pause.repository';
import { RunHistoryRepository } from './run-history.repository';
import { StateRepository, TIDEMARK_DATA_SOURCE } from './state.repository';

/** Provides the repository over a DataSource that bootstrap has already connected and migrated. */
@Global()
@Module({})
export class PersistenceModule implements OnApplicationShutdown {
  constructor(@Inject(TIDEMARK_DATA_SOURCE) private readonly dataSource: DataSource) {}

  static forDataSource(dataSource: DataSource): DynamicModule {
    return {
      module: PersistenceModule,
      providers: [
        { provide: TIDEMARK_DATA_SOURCE, useValue: dataSource },
        StateRepository,
        MetricsRepository,
        AuditRepository,
        PauseRepository,
        RunHistoryRepository,
      ],
      exports: [
        StateRepository,
        MetricsRepository,
        AuditRepository,
        PauseRepository,
        RunHistoryRepository,
        TIDEMARK_DATA_SOURCE,
      ],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

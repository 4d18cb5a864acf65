// A stock NestJS app for the bench's reference row: Fastify, TypeORM through @nestjs/typeorm, a repository's
// `findOneBy`, the entity returned as JSON; the way the Nest documentation writes it, reading Tidemark's table.
import 'reflect-metadata';
import { Controller, Get, Injectable, Module, NotFoundException, Param, ParseIntPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { InjectRepository, TypeOrmModule } from '@nestjs/typeorm';
import { Column, Entity, PrimaryGeneratedColumn, Repository } from 'typeorm';

@Entity('integration')
export class Integration {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id: string;
  @Column({ name: 'source_system_id' }) sourceSystemId: number;
  @Column({ name: 'integration_name' }) integrationName: string;
  @Column() cron: string;
  @Column({ name: 'time_zone' }) timeZone: string;
  @Column() enabled: boolean;
  @Column() paused: boolean;
  @Column({ name: 'next_fire_at', type: 'timestamptz', nullable: true }) nextFireAt: Date | null;
  @Column({ name: 'last_status', type: 'jsonb', nullable: true }) lastStatus: unknown;
  @Column({ name: 'max_sync_date_time', type: 'text', nullable: true }) maxSyncDateTime: string | null;
  @Column({ name: 'max_sync_pk_id', type: 'bigint', nullable: true }) maxSyncPkId: string | null;
  @Column({ name: 'custom_database_values', type: 'jsonb', nullable: true }) customDatabaseValues: unknown;
  @Column({ name: 'last_run_id', type: 'bigint', nullable: true }) lastRunId: string | null;
  @Column({ name: 'consecutive_failures' }) consecutiveFailures: number;
  @Column({ name: 'updated_at', type: 'timestamptz' }) updatedAt: Date;
}

@Injectable()
export class IntegrationsService {
  constructor(@InjectRepository(Integration) private readonly integrations: Repository<Integration>) {}

  findOne(sourceSystemId: number, integrationName: string): Promise<Integration | null> {
    return this.integrations.findOneBy({ sourceSystemId, integrationName });
  }
}

@Controller('integrations')
export class IntegrationsController {
  constructor(private readonly integrationsService: IntegrationsService) {}

  @Get(':sourceSystemId/:integrationName')
  async findOne(
    @Param('sourceSystemId', ParseIntPipe) sourceSystemId: number,
    @Param('integrationName') integrationName: string,
  ): Promise<Integration> {
    const integration = await this.integrationsService.findOne(sourceSystemId, integrationName);
    if (!integration) throw new NotFoundException();
    return integration;
  }
}

@Module({
  imports: [
    TypeOrmModule.forRoot({ type: 'postgres', url: process.env.DATABASE_URL, entities: [Integration] }),
    TypeOrmModule.forFeature([Integration]),
  ],
  controllers: [IntegrationsController],
  providers: [IntegrationsService],
})
export class AppModule {}

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create<NestFastifyApplication>(AppModule, new FastifyAdapter(), {
    logger: ['error', 'warn'],
  });
  await app.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
  process.stdout.write(`${await app.getUrl()}\n`);
}

void bootstrap();

import { BullModule } from '@nestjs/bullmq';
import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '@app/config';
import { dataSourceOptions } from '../../../migrations/data-source';
import { RedisModule } from './redis.module';

/** The shared infrastructure every process needs: PostgreSQL, Redis and the BullMQ connection. */
@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [AppConfig],
      // Retries only at start-up; the schema comes from migrations, never from synchronize.
      useFactory: (config: AppConfig) => ({ ...dataSourceOptions(config), retryAttempts: 5, retryDelay: 1000 }),
    }),
    BullModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        connection: { host: config.redis.host, port: config.redis.port, password: config.redis.password, maxRetriesPerRequest: null },
        prefix: config.queuePrefix,
      }),
    }),
    RedisModule,
  ],
  exports: [RedisModule],
})
export class PlatformModule {}

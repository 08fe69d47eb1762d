import { BullModule } from '@nestjs/bullmq';
import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '@app/config';
import { OutageClassifier } from './outage-classifier';
import { postgresConnectionOptions } from './postgres-connection';
import { RedisModule } from './redis.module';
import { ProcessShutdown } from './shutdown/process-shutdown';

/** The shared infrastructure every process needs: PostgreSQL, Redis and the BullMQ connection, and what tells their outages. */
@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [AppConfig],
      // Each context registers its own entities (TypeOrmModule.forFeature); retries only at start-up.
      useFactory: (config: AppConfig) => ({ ...postgresConnectionOptions(config), autoLoadEntities: true, retryAttempts: 5, retryDelay: 1000 }),
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
  providers: [OutageClassifier, ProcessShutdown],
  exports: [RedisModule, OutageClassifier, ProcessShutdown],
})
export class PlatformModule {}

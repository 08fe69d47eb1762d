export * from './application/ports/lock.port';
export * from './domain/lock.errors';
export * from './infrastructure/redis-simple-lock.adapter';
export * from './locking.module';

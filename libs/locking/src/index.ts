export * from './application/ports/lock.port';
export * from './domain/lock.errors';
export * from './infrastructure/redis-fair-lock/redis-fair-lock';
export * from './locking.module';
export * from './testing/in-memory-locks';

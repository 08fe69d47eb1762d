// The locking context's public entry: what other code uses of it, nothing more.
export { LockingModule } from './locking.module';
export { LOCK_PORT } from './application/ports/lock.port';
export type { Lease, LockPort, ParkedGrantListener, ParkOptions, ParkOutcome } from './application/ports/lock.port';
export { LockError, LockErrorCode } from './domain/lock.errors';
// The Redis lock itself, for the locks benchmark and the lock-holder child process of the tests.
export { RedisFairLock } from './infrastructure/redis-fair-lock/redis-fair-lock';
export type { FairLockOptions } from './infrastructure/redis-fair-lock/redis-fair-lock';

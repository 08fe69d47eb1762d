// The auth context's public entry: what other code uses of it, nothing more.
export { AuthModule } from './auth.module';
export { AUTH_ENTITIES } from './infrastructure/persistence/auth-entities';
export { AuthErrorCode } from './domain/auth.errors';
export { PUBLIC_PATHS } from './domain/request-path';
export { HttpAccessMiddleware } from './infrastructure/http/http-access.middleware';

import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { SpendingModule } from '@app/spending';
import { ApiKeyService } from './application/api-key.service';
import { API_KEY_REPOSITORY } from './application/ports/api-key.repository.port';
import { SPEND_LIMITS } from './application/ports/spend-limits.port';
import { SpendingServiceSpendLimits } from './infrastructure/clients/spending-service.spend-limits';
import { AccessGuard } from './infrastructure/http/access.guard';
import { HttpAccessMiddleware } from './infrastructure/http/http-access.middleware';
import { KeysController } from './infrastructure/http/keys.controller';
import { RequestAuthenticator } from './infrastructure/http/request-authenticator';
import { AUTH_ENTITIES } from './infrastructure/persistence/auth-entities';
import { TypeormApiKeyRepository } from './infrastructure/persistence/typeorm-api-key.repository';

const ports = [
  { provide: API_KEY_REPOSITORY, useClass: TypeormApiKeyRepository },
  { provide: SPEND_LIMITS, useClass: SpendingServiceSpendLimits },
];

/**
 * Who may call the API: scoped keys (/api/v1/keys), the global guard every route passes, and the
 * Express middleware configureHttp installs for what the guard does not see (HttpAccessMiddleware).
 * For the HTTP application only: the worker has no routes.
 */
@Module({
  imports: [TypeOrmModule.forFeature(AUTH_ENTITIES), SpendingModule],
  controllers: [KeysController],
  providers: [...ports, ApiKeyService, RequestAuthenticator, HttpAccessMiddleware, { provide: APP_GUARD, useClass: AccessGuard }],
  exports: [...ports.map((p) => p.provide), ApiKeyService, HttpAccessMiddleware],
})
export class AuthModule {}

import type { Role } from '@app/shared';
import { ApiKey } from '../../domain/api-key';
import { ApiKeyOrmEntity } from './api-key.orm-entity';

export const ApiKeyMapper = {
  toDomain(row: ApiKeyOrmEntity): ApiKey {
    return ApiKey.restore({ ...row, role: row.role as Role, budget: row.budget ?? null });
  },

  toRow(key: ApiKey): ApiKeyOrmEntity {
    return Object.assign(new ApiKeyOrmEntity(), key.snapshot());
  },
};

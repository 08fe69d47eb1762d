import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { KeyedApi } from '@app/http';
import { LOCK_PORT, LockPort } from '../../application/ports/lock.port';

class LockHolderDto {
  @ApiProperty({ example: 'session:3f1c…' }) owner: string;
  @ApiProperty({ description: 'Fencing token of this grant; grows strictly per resource', example: 1795729314923780 })
  fence: number;
  @ApiProperty({ example: 5120 }) heldForMs: number;
  @ApiProperty({ description: 'Until the lease expires unless its holder renews it', example: 24880 }) expiresInMs: number;
}

class LockWaiterDto {
  @ApiProperty({ example: 'session:9a2e…' }) owner: string;
  @ApiProperty({ description: '1 = next to be granted', example: 1 }) position: number;
  @ApiProperty({ example: 3100 }) waitingMs: number;
}

class LockDto {
  @ApiProperty({ example: 'workspace:/srv/repos/billing' }) resource: string;
  @ApiPropertyOptional({ type: LockHolderDto, nullable: true }) holder: LockHolderDto | null;
  @ApiProperty({ type: [LockWaiterDto], description: 'In the order they will be granted' }) waiters: LockWaiterDto[];
}

class LockListDto {
  @ApiProperty({ type: [LockDto] }) locks: LockDto[];
}

@ApiTags('locks')
@KeyedApi({ role: 'viewer' })
@Controller('api/v1/locks')
export class LocksController {
  constructor(@Inject(LOCK_PORT) private readonly locks: LockPort) {}

  @Get()
  @ApiOperation({ summary: 'Held locks and their waiters (session:<id>, workspace:<path>), by resource' })
  @ApiOkResponse({ type: LockListDto })
  async list(): Promise<LockListDto> {
    return { locks: await this.locks.list() };
  }
}

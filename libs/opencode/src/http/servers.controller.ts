import { Controller, Get, HttpCode, HttpStatus, Param, Post } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBadRequestResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, ErrorResponseDto, KeyedApi, RequireRole } from '@app/http';
import { Principal } from '@app/shared';
import { FleetError } from '../fleet/fleet.errors';
import { RedisFleetRegistry } from '../fleet/redis-fleet-registry';
import { ServerDto, ServerIdParamDto, ServerListDto } from './dto/server.dto';
import { presentServer } from './server.presenter';

/**
 * The OpenCode servers of every worker process, as the workers publish them in Redis: an API
 * process that runs no worker lists them too. A drain is a request its worker takes at its next
 * probe (every 2 s).
 */
@ApiTags('servers')
@KeyedApi({ role: 'viewer', forbidden: 'a drain needs an admin key' })
@Controller('api/v1/servers')
export class ServersController {
  constructor(private readonly registry: RedisFleetRegistry) {}

  @Get()
  @ApiOperation({ summary: 'Every OpenCode server of every worker process, by worker then id; those of a worker gone silent listed STOPPED for 10 minutes' })
  @ApiOkResponse({ type: ServerListDto })
  async list(): Promise<ServerListDto> {
    return { items: (await this.registry.list()).map(presentServer) };
  }

  @Post(':id/drain')
  @RequireRole('admin')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({
    summary:
      'Drain a server: no new runs go to it, its runs finish; a managed one is then replaced, an external one stays DRAINING until its worker restarts. ' +
      'Answers the server as listed now: it shows DRAINING after its worker\'s next probe (within about 2 s)',
  })
  @ApiAcceptedResponse({ type: ServerDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'VALIDATION_FAILED: id is not 1 to 120 letters, digits and hyphens' })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'SERVER_NOT_FOUND: no worker lists it, or it is STOPPED' })
  async drain(@Param() { id }: ServerIdParamDto, @CurrentPrincipal() principal: Principal): Promise<ServerDto> {
    const server = await this.registry.requestDrain(id, `drain asked through the API by ${principal.name}`);
    if (!server) throw FleetError.serverNotFound(id);
    return presentServer(server);
  }
}

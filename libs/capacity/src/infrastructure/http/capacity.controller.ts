import { Controller, Delete, Get, HttpCode, HttpStatus, Param } from '@nestjs/common';
import { ApiBadRequestResponse, ApiNoContentResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ErrorResponseDto, KeyedApi, RequireRole } from '@app/http';
import { ProviderCapacityService } from '../../application/provider-capacity.service';
import { CapacityError } from '../../domain/capacity.errors';
import { CapacityStatusDto, ModelParamDto } from './dto/capacity.dto';

@ApiTags('capacity')
@KeyedApi({ role: 'viewer', forbidden: 'lifting a mark needs an admin key' })
@Controller('api/v1/capacity')
export class CapacityController {
  constructor(private readonly capacity: ProviderCapacityService) {}

  @Get()
  @ApiOperation({ summary: 'Provider limits (PROVIDER_LIMITS) with what is in use now, across every worker, and the models cooling down or unavailable' })
  @ApiOkResponse({ type: CapacityStatusDto })
  async status(): Promise<CapacityStatusDto> {
    const { rules, marks } = await this.capacity.status();
    return { rules, marks: marks.map((m) => ({ ...m, until: m.until.toISOString() })) };
  }

  @Delete('marks/:model')
  @RequireRole('admin')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: "Lift a model's cooldown or unavailable mark: its sessions are admitted again at their next try" })
  @ApiNoContentResponse({ description: 'Lifted' })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'VALIDATION_FAILED: model is not provider/model' })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'CAPACITY_MARK_NOT_FOUND: the model has no mark' })
  async clearMark(@Param() { model }: ModelParamDto): Promise<void> {
    if (!(await this.capacity.clearMark(model))) throw CapacityError.markNotFound(model);
  }
}

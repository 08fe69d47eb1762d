import { Module } from '@nestjs/common';
import { CapacityModule } from '../../capacity.module';
import { CapacityController } from './capacity.controller';

/** GET /api/v1/capacity and DELETE /api/v1/capacity/marks/:model, for the API process. */
@Module({
  imports: [CapacityModule],
  controllers: [CapacityController],
})
export class CapacityApiModule {}

import { ApiProperty } from '@nestjs/swagger';
import { MERGE_STRATEGIES, MergeStrategy } from '../../../domain/session-worktree';
import { SessionResponseDto } from './session.dto';

export class SessionMergeResponseDto {
  @ApiProperty({ enum: ['merged', 'up-to-date'], description: 'up-to-date: the target held the work already; nothing was committed' })
  status: 'merged' | 'up-to-date';
  @ApiProperty({ example: 'main' }) target: string;
  @ApiProperty({ enum: MERGE_STRATEGIES }) strategy: MergeStrategy;
  @ApiProperty({ description: "The target's commit after the merge" }) commit: string;
  @ApiProperty({ type: SessionResponseDto }) session: SessionResponseDto;
}

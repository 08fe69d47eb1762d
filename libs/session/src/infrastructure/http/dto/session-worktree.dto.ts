import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import { MERGE_STRATEGIES, MergeStrategy } from '../../../domain/session-worktree';

/** What the session's branch changed since the commit it was made from. */
export class SessionChangesDto {
  @ApiProperty({ example: 'orchestrator/1a2b3c4d-add-a-health-endpoint' }) branch: string;
  @ApiProperty({ description: 'The commit the branch was made from' }) baseCommit: string;
  @ApiProperty({ description: "The branch's last commit (baseCommit until a run committed something)" }) headCommit: string;
  @ApiProperty({ type: [String], description: 'Repository-relative paths changed since baseCommit' }) files: string[];
  @ApiProperty() insertions: number;
  @ApiProperty() deletions: number;
}

class SessionMergeDto {
  @ApiProperty({ example: 'main' }) target: string;
  @ApiProperty({ enum: MERGE_STRATEGIES }) strategy: MergeStrategy;
  @ApiProperty({ description: "The target's commit after the merge" }) commit: string;
  @ApiProperty({ format: 'date-time' }) at: Date;
}

/** The session's worktree and the fate of its branch. */
export class SessionWorktreeDto {
  @ApiProperty({ enum: ['ACTIVE', 'MERGED', 'DISCARDED', 'EXPIRED'], description: 'ACTIVE: the branch holds the work; otherwise the branch is gone' })
  state: string;
  @ApiProperty({ description: 'The top of the git work tree the workspace is in' }) repository: string;
  @ApiProperty({ description: "The workspace's place in the repository ('' at the top): the agent works there in its worktree" }) subdirectory: string;
  @ApiProperty({ nullable: true, type: String, description: 'baseRef as asked (null: the workspace HEAD)' }) baseRef: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'A branch merged in before the first turn (a plan resolver)' }) mergeIn: string | null;
  @ApiProperty({ nullable: true, type: SessionMergeDto }) merge: SessionMergeDto | null;
}

export class MergeSessionDto {
  @ApiPropertyOptional({ example: 'main', description: 'A branch of the repository; default: the branch checked out at its top' })
  @IsOptional() @IsString() @MaxLength(200)
  target?: string;

  @ApiPropertyOptional({ enum: MERGE_STRATEGIES, default: 'merge', description: 'merge: a merge commit; squash: one commit; rebase: the branch commits replayed on the target' })
  @IsOptional() @IsIn(MERGE_STRATEGIES)
  strategy?: MergeStrategy;
}

export class DiffQueryDto {
  @ApiPropertyOptional({ enum: ['text', 'json'], default: 'text', description: 'text: the unified diff (text/x-diff); json: per file with status and hunks' })
  @IsOptional() @IsIn(['text', 'json'])
  format?: 'text' | 'json';
}

class DiffHunkDto {
  @ApiProperty({ example: '@@ -1,3 +1,4 @@' }) header: string;
  @ApiProperty() oldStart: number;
  @ApiProperty() oldLines: number;
  @ApiProperty() newStart: number;
  @ApiProperty() newLines: number;
  @ApiProperty({ type: [String], description: "Each line with its leading '+', '-' or ' '" }) lines: string[];
}

export class FileDiffDto {
  @ApiProperty({ example: 'src/health.ts' }) path: string;
  @ApiProperty({ nullable: true, type: String, description: 'Renamed: the old path' }) oldPath: string | null;
  @ApiProperty({ enum: ['added', 'modified', 'deleted', 'renamed'] }) status: string;
  @ApiProperty() insertions: number;
  @ApiProperty() deletions: number;
  @ApiProperty() binary: boolean;
  @ApiProperty({ type: [DiffHunkDto] }) hunks: DiffHunkDto[];
}

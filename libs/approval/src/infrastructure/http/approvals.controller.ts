import { Body, Controller, Get, HttpCode, HttpStatus, Post, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { CurrentPrincipal, ErrorResponseDto, IdParam, KeyedApi, RequireRole } from '@app/http';
import { Principal } from '@app/shared';
import { ApprovalService } from '../../application/approval.service';
import { AnswerApprovalDto, ApprovalDetailDto, ApprovalListDto, ListApprovalsQueryDto } from './dto/approval.dto';
import { presentApproval, presentApprovalDetail } from './approval.presenter';

const DEFAULT_LIMIT = 50;

@ApiTags('approvals')
@KeyedApi({ unauthorized: 'the key is missing, unknown, revoked or expired', forbidden: 'the key\'s role is below the route\'s' })
@ApiBadRequestResponse({ type: ErrorResponseDto, description: 'VALIDATION_FAILED: a field or parameter is wrong' })
@Controller('api/v1/approvals')
export class ApprovalsController {
  constructor(private readonly approvals: ApprovalService) {}

  @Get()
  @RequireRole('viewer')
  @ApiOperation({ summary: 'List approvals (OpenCode permission requests waiting for a person, and decided ones), newest first' })
  @ApiOkResponse({ type: ApprovalListDto })
  async list(@Query() query: ListApprovalsQueryDto): Promise<ApprovalListDto> {
    const items = await this.approvals.list({ status: query.status, sessionId: query.sessionId, limit: query.limit ?? DEFAULT_LIMIT });
    return { items: items.map(presentApproval) };
  }

  @Get(':id')
  @RequireRole('viewer')
  @ApiOperation({ summary: "An approval, with OpenCode's details of the call (metadata)" })
  @ApiOkResponse({ type: ApprovalDetailDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'APPROVAL_NOT_FOUND' })
  async get(@IdParam() id: string): Promise<ApprovalDetailDto> {
    return presentApprovalDetail(await this.approvals.get(id));
  }

  @Post(':id')
  @HttpCode(HttpStatus.OK)
  @RequireRole('operator')
  @ApiOperation({
    summary: 'Answer a PENDING approval: allow (remember: also later matching calls of the session) or deny',
    description: 'The worker running the session tells OpenCode within a moment. A denial stops the OpenCode turn: the session ends FAILED (PERMISSION_DENIED).',
  })
  @ApiOkResponse({ type: ApprovalDetailDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'APPROVAL_NOT_FOUND' })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'APPROVAL_ALREADY_DECIDED (the message names its status), APPROVAL_VERSION_CONFLICT' })
  async answer(
    @IdParam() id: string,
    @Body() body: AnswerApprovalDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<ApprovalDetailDto> {
    const answered = await this.approvals.answer(id, { decision: body.decision, remember: body.remember }, { keyId: principal.keyId });
    return presentApprovalDetail(answered);
  }
}

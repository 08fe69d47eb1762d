import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { AgentErrorCode } from '@app/agent';
import { ApprovalErrorCode } from '@app/approval';
import { AuthErrorCode } from '@app/auth';
import { CapacityErrorCode } from '@app/capacity';
import { LockErrorCode } from '@app/locking';
import { FleetErrorCode } from '@app/opencode';
import { SessionErrorCode } from '@app/session';
import { OutageClassifier } from '@app/platform';
import { CommonErrorCode, DomainError, errorMessage, Outage, ServiceUnavailableError } from '@app/shared';
import { PlanErrorCode, TaskErrorCode } from '@app/task';
import { WorkspaceErrorCode } from '@app/workspace';

type KnownCode = SessionErrorCode | AgentErrorCode | LockErrorCode | CommonErrorCode | PlanErrorCode | TaskErrorCode | WorkspaceErrorCode | AuthErrorCode | ApprovalErrorCode | FleetErrorCode | CapacityErrorCode;

/** Every code of every context, mapped once. A code missing here does not compile. */
const STATUS_OF: Record<KnownCode, HttpStatus> = {
  [SessionErrorCode.SESSION_NOT_FOUND]: HttpStatus.NOT_FOUND,
  [SessionErrorCode.INVALID_TRANSITION]: HttpStatus.CONFLICT,
  [SessionErrorCode.VERSION_CONFLICT]: HttpStatus.CONFLICT,
  [SessionErrorCode.SESSION_RUNNING]: HttpStatus.CONFLICT,
  [SessionErrorCode.INVALID_CURSOR]: HttpStatus.BAD_REQUEST,
  [SessionErrorCode.AGENT_CHOICE_CONFLICT]: HttpStatus.BAD_REQUEST,
  [SessionErrorCode.WORKSPACE_NOT_GIT]: HttpStatus.BAD_REQUEST,
  [SessionErrorCode.ISOLATION_INVALID]: HttpStatus.BAD_REQUEST,
  [SessionErrorCode.BUDGET_INVALID]: HttpStatus.BAD_REQUEST,
  [SessionErrorCode.NO_WORKTREE]: HttpStatus.CONFLICT,
  [SessionErrorCode.WORKTREE_GONE]: HttpStatus.CONFLICT,
  [SessionErrorCode.MERGE_CONFLICT]: HttpStatus.CONFLICT,
  [SessionErrorCode.WORKSPACE_DIRTY]: HttpStatus.CONFLICT,
  [SessionErrorCode.MERGE_TARGET_INVALID]: HttpStatus.BAD_REQUEST,
  [AgentErrorCode.AGENT_NOT_FOUND]: HttpStatus.NOT_FOUND,
  [AgentErrorCode.AGENT_VERSION_CONFLICT]: HttpStatus.CONFLICT,
  [AgentErrorCode.AGENT_NAME_TAKEN]: HttpStatus.CONFLICT,
  [AgentErrorCode.AGENT_INVALID]: HttpStatus.BAD_REQUEST,
  [AgentErrorCode.NO_ELIGIBLE_AGENT]: HttpStatus.CONFLICT,
  [AgentErrorCode.AGENT_DISABLED]: HttpStatus.CONFLICT,
  [LockErrorCode.LOCK_TIMEOUT]: HttpStatus.CONFLICT,
  [LockErrorCode.LOCK_DEADLOCK]: HttpStatus.CONFLICT,
  [LockErrorCode.LOCK_LOST]: HttpStatus.CONFLICT,
  [LockErrorCode.LOCK_ABORTED]: HttpStatus.CONFLICT,
  [LockErrorCode.LOCK_UNAVAILABLE]: HttpStatus.SERVICE_UNAVAILABLE,
  [PlanErrorCode.PLAN_NOT_FOUND]: HttpStatus.NOT_FOUND,
  [PlanErrorCode.PLAN_VERSION_CONFLICT]: HttpStatus.CONFLICT,
  [PlanErrorCode.PLAN_INVALID_STATE]: HttpStatus.CONFLICT,
  // PlanErrorCode's MERGE_CONFLICT, WORKSPACE_DIRTY and MERGE_TARGET_INVALID are the session codes' strings: mapped above.
  [PlanErrorCode.PLAN_NOT_ISOLATED]: HttpStatus.CONFLICT,
  [TaskErrorCode.PLAN_INVALID]: HttpStatus.BAD_REQUEST,
  [TaskErrorCode.REQUIREMENT_INVALID]: HttpStatus.BAD_REQUEST,
  [WorkspaceErrorCode.WORKSPACE_INVALID]: HttpStatus.BAD_REQUEST,
  [WorkspaceErrorCode.WORKSPACE_OUTSIDE_ROOTS]: HttpStatus.BAD_REQUEST,
  [WorkspaceErrorCode.GIT_REF_INVALID]: HttpStatus.BAD_REQUEST,
  [WorkspaceErrorCode.GIT_REPOSITORY_UNSAFE]: HttpStatus.UNPROCESSABLE_ENTITY,
  [WorkspaceErrorCode.GIT_FAILED]: HttpStatus.INTERNAL_SERVER_ERROR,
  [AuthErrorCode.KEY_NOT_FOUND]: HttpStatus.NOT_FOUND,
  [AuthErrorCode.KEY_INVALID]: HttpStatus.BAD_REQUEST,
  [AuthErrorCode.KEY_VERSION_CONFLICT]: HttpStatus.CONFLICT,
  [ApprovalErrorCode.APPROVAL_NOT_FOUND]: HttpStatus.NOT_FOUND,
  [ApprovalErrorCode.APPROVAL_ALREADY_DECIDED]: HttpStatus.CONFLICT,
  [ApprovalErrorCode.APPROVAL_VERSION_CONFLICT]: HttpStatus.CONFLICT,
  [FleetErrorCode.SERVER_NOT_FOUND]: HttpStatus.NOT_FOUND,
  [CapacityErrorCode.CAPACITY_MARK_NOT_FOUND]: HttpStatus.NOT_FOUND,
  [CommonErrorCode.VALIDATION_FAILED]: HttpStatus.BAD_REQUEST,
  [CommonErrorCode.NOT_FOUND]: HttpStatus.NOT_FOUND,
  [CommonErrorCode.UNAUTHORIZED]: HttpStatus.UNAUTHORIZED,
  [CommonErrorCode.FORBIDDEN]: HttpStatus.FORBIDDEN,
  [CommonErrorCode.INTERNAL]: HttpStatus.INTERNAL_SERVER_ERROR,
  [CommonErrorCode.DATABASE_UNAVAILABLE]: HttpStatus.SERVICE_UNAVAILABLE,
  [CommonErrorCode.REDIS_UNAVAILABLE]: HttpStatus.SERVICE_UNAVAILABLE,
};

const CODE_OF_HTTP_STATUS: Partial<Record<number, CommonErrorCode>> = {
  [HttpStatus.BAD_REQUEST]: CommonErrorCode.VALIDATION_FAILED,
  [HttpStatus.NOT_FOUND]: CommonErrorCode.NOT_FOUND,
  [HttpStatus.UNAUTHORIZED]: CommonErrorCode.UNAUTHORIZED,
  [HttpStatus.FORBIDDEN]: CommonErrorCode.FORBIDDEN,
};

export interface ErrorBody {
  statusCode: number;
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/**
 * Turns anything thrown into `{statusCode, code, message, details?}`; never a stack trace. An error
 * that says PostgreSQL or Redis is out of reach (a refused or lost connection, a server shutting
 * down, a lock store that does not answer) is a 503 DATABASE_UNAVAILABLE or REDIS_UNAVAILABLE with
 * Retry-After, logged as one warning line: the outage, not a bug.
 */
@Catch()
export class DomainErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  constructor(private readonly outages?: OutageClassifier) {}

  catch(thrown: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    const exception = this.unavailableOf(thrown) ?? thrown;
    const body = this.toBody(exception);
    if (exception instanceof DomainError && exception.retryAfterSeconds !== undefined) {
      response.setHeader('Retry-After', String(exception.retryAfterSeconds));
    }
    if (exception instanceof ServiceUnavailableError) {
      const request = host.switchToHttp().getRequest<{ method?: string; originalUrl?: string }>();
      this.logger.warn(`${body.code}: ${request.method} ${request.originalUrl} answered 503: ${errorMessage(thrown)}`);
    } else if (body.statusCode >= 500 && body.statusCode !== HttpStatus.SERVICE_UNAVAILABLE) {
      // (Any other 503 is answered on purpose: readiness down, a limit reached. Not a bug to log.)
      const stack = exception instanceof Error ? exception.stack : String(exception);
      this.logger.error(`Unhandled error: ${stack}`);
    }
    response.status(body.statusCode).json(body);
  }

  /** The 503 to answer when `exception` says PostgreSQL or Redis is out of reach; undefined otherwise. */
  private unavailableOf(exception: unknown): ServiceUnavailableError | undefined {
    if (exception instanceof ServiceUnavailableError) return exception;
    // The lock store is Redis: a lock that could not be asked for is Redis out of reach.
    const lockUnavailable = exception instanceof DomainError && exception.code === LockErrorCode.LOCK_UNAVAILABLE;
    const outage: Outage | null = lockUnavailable ? 'redis' : (this.outages?.outageOf(exception) ?? null);
    if (!outage) return undefined;
    return new ServiceUnavailableError(outage, lockUnavailable ? { reason: LockErrorCode.LOCK_UNAVAILABLE, ...(exception as DomainError).details } : undefined);
  }

  private toBody(exception: unknown): ErrorBody {
    if (exception instanceof DomainError) {
      const statusCode = STATUS_OF[exception.code as KnownCode] ?? HttpStatus.INTERNAL_SERVER_ERROR;
      const details = exception.retryable ? { ...exception.details, retryable: true } : exception.details;
      return { statusCode, code: exception.code, message: exception.message, ...(details && { details }) };
    }
    if (exception instanceof HttpException) {
      const statusCode = exception.getStatus();
      const raw = exception.getResponse();
      const payload = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : { message: raw };
      const code =
        typeof payload.code === 'string' ? payload.code : (CODE_OF_HTTP_STATUS[statusCode] ?? `HTTP_${statusCode}`);
      const message = Array.isArray(payload.message) ? payload.message.join('; ') : String(payload.message ?? exception.message);
      const details = payload.details as Record<string, unknown> | undefined;
      return { statusCode, code, message, ...(details && { details }) };
    }
    return { statusCode: 500, code: CommonErrorCode.INTERNAL, message: 'Internal error; see the server log' };
  }
}

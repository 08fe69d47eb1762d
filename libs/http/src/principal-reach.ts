import { ForbiddenException } from '@nestjs/common';
import { CommonErrorCode, Principal, principalReaches } from '@app/shared';

/**
 * 403 FORBIDDEN unless the caller's key reaches `workspace` (see principalReaches): a key confined
 * to some roots must not start, retry, cancel, edit or delete work elsewhere.
 */
export function assertPrincipalReaches(principal: Principal, workspace: string, what: string): void {
  if (principalReaches(principal, workspace)) return;
  throw new ForbiddenException({
    code: CommonErrorCode.FORBIDDEN,
    message: `${what} works in ${workspace}, outside the workspace roots of the key "${principal.name}" (${principal.workspaceRoots!.join(', ')})`,
    details: { workspace, keyRoots: principal.workspaceRoots },
  });
}

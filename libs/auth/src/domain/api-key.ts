import { randomUUID } from 'node:crypto';
import { Budget, budgetProblem, normaliseBudget, Principal, Role, ROLES } from '@app/shared';
import { generateSecret, hashSecret, identifyingPrefix } from './api-key-secret';
import { AuthError } from './auth.errors';

export interface ApiKeyProps {
  id: string;
  name: string;
  role: Role;
  /** Realpaths every workspace of this key must resolve into; null: any of WORKSPACE_ROOTS. */
  workspaceRoots: string[] | null;
  /** hashSecret(secret): the secret itself is never stored. */
  keyHash: string;
  /** The secret's first characters, to tell keys apart in lists and logs. */
  prefix: string;
  expiresAt: Date | null;
  revokedAt: Date | null;
  /** The key that made this one (BOOTSTRAP_KEY_ID for API_KEY; null with authentication off). */
  createdByKeyId: string | null;
  /** What the sessions made with this key may spend per UTC day, together; null: no limit. Stored normalised. */
  budget: Budget | null;
  createdAt: Date;
  updatedAt: Date;
  version: number;
}

export interface IssueApiKey {
  name: string;
  role: Role;
  workspaceRoots: string[] | null;
  expiresAt: Date | null;
  createdByKeyId: string | null;
  /** Absent or null: no limit. */
  budget?: Budget | null;
}

/** Why a presented key does not authenticate. */
export type KeyRefusal = 'revoked' | 'expired';
export type ApiKeyStatus = 'active' | KeyRefusal;

export const MAX_KEY_NAME_LENGTH = 100;

/** A scoped API key. Revoking is its soft delete: the row stays, so ids recorded on sessions keep a name. */
export class ApiKey {
  private constructor(private props: ApiKeyProps) {}

  /** A new key and its secret; the secret is returned once and only its hash is kept. */
  static issue(input: IssueApiKey, now = new Date()): { key: ApiKey; secret: string } {
    const name = typeof input.name === 'string' ? input.name.trim() : '';
    if (!name || name.length > MAX_KEY_NAME_LENGTH) throw AuthError.invalid('name', `must be 1 to ${MAX_KEY_NAME_LENGTH} characters`, input.name);
    if (!ROLES.includes(input.role)) throw AuthError.invalid('role', `must be one of ${ROLES.join(', ')}`, input.role);
    if (input.expiresAt !== null && !(input.expiresAt.getTime() > now.getTime())) {
      throw AuthError.invalid('expiresAt', 'must be in the future', input.expiresAt.toISOString());
    }
    if (input.workspaceRoots !== null && input.workspaceRoots.length === 0) {
      throw AuthError.invalid('workspaceRoots', 'must name at least one directory (leave it out for any root)');
    }
    const budget = validBudget(input.budget ?? null);
    const secret = generateSecret();
    const key = new ApiKey({
      id: randomUUID(),
      name,
      role: input.role,
      workspaceRoots: input.workspaceRoots ? [...input.workspaceRoots] : null,
      keyHash: hashSecret(secret),
      prefix: identifyingPrefix(secret),
      expiresAt: input.expiresAt,
      revokedAt: null,
      createdByKeyId: input.createdByKeyId,
      budget,
      createdAt: now,
      updatedAt: now,
      version: 1,
    });
    return { key, secret };
  }

  static restore(props: ApiKeyProps): ApiKey {
    return new ApiKey({ ...props, workspaceRoots: props.workspaceRoots ? [...props.workspaceRoots] : null, budget: copyBudget(props.budget) });
  }

  get id(): string {
    return this.props.id;
  }
  get version(): number {
    return this.props.version;
  }
  get revokedAt(): Date | null {
    return this.props.revokedAt;
  }
  get budget(): Readonly<Budget> | null {
    return this.props.budget;
  }

  snapshot(): Readonly<ApiKeyProps> {
    return { ...this.props, workspaceRoots: this.props.workspaceRoots ? [...this.props.workspaceRoots] : null, budget: copyBudget(this.props.budget) };
  }

  /**
   * Replaces the daily budget (null: none). A revoked or expired key may still have one changed:
   * sessions it made may still be running.
   */
  changeBudget(budget: Budget | null, now = new Date()): void {
    this.props.budget = validBudget(budget);
    this.props.updatedAt = now;
  }

  status(now = new Date()): ApiKeyStatus {
    if (this.props.revokedAt) return 'revoked';
    if (this.props.expiresAt && this.props.expiresAt.getTime() <= now.getTime()) return 'expired';
    return 'active';
  }

  /** Who a request made with this key acts as; null (with the reason) when the key no longer authenticates. */
  principal(now = new Date()): { principal: Principal } | { refused: KeyRefusal } {
    const status = this.status(now);
    if (status !== 'active') return { refused: status };
    const { id, name, role, workspaceRoots } = this.props;
    return { principal: { keyId: id, name, role, workspaceRoots } };
  }

  /** Returns false when it was revoked already (revoking is idempotent and keeps the first time). */
  revoke(now = new Date()): boolean {
    if (this.props.revokedAt) return false;
    this.props.revokedAt = now;
    this.props.updatedAt = now;
    return true;
  }

  /** Called by the repository after a successful version-checked write. */
  persisted(version: number): void {
    this.props.version = version;
  }
}

function validBudget(budget: unknown): Budget | null {
  const problem = budgetProblem(budget);
  if (problem) throw AuthError.invalid(problem.field, problem.message, budget);
  return normaliseBudget(budget as Budget | null);
}

function copyBudget(budget: Budget | null | undefined): Budget | null {
  return budget ? { ...budget } : null;
}

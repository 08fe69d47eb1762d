import type { Principal } from '@app/shared';

/** Why a request does not authenticate: no key, a key nobody issued, or one that no longer counts. */
export type AuthenticationRefusal = 'missing' | 'unknown' | 'revoked' | 'expired';

/** The outcome of checking a request's key. A refused stored key still names itself, for the audit log. */
export type Authentication =
  | { principal: Principal }
  | { refused: AuthenticationRefusal; keyId?: string; name?: string };

export const REFUSAL_MESSAGES: Record<AuthenticationRefusal, string> = {
  missing: 'This needs an API key: send Authorization: Bearer <key>',
  unknown: 'The API key is not valid',
  revoked: 'The API key was revoked',
  expired: 'The API key has expired',
};

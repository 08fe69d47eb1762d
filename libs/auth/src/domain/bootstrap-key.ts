import { timingSafeEqual } from 'node:crypto';
import { BOOTSTRAP_KEY_ID, Principal } from '@app/shared';
import { hashSecret } from './api-key-secret';

/** API_KEY: the admin key from the environment, which makes the first stored keys. */
export const BOOTSTRAP_PRINCIPAL: Principal = Object.freeze({ keyId: BOOTSTRAP_KEY_ID, name: 'API_KEY', role: 'admin', workspaceRoots: null });

export class BootstrapKey {
  private readonly hash: Buffer;

  constructor(secret: string) {
    this.hash = Buffer.from(hashSecret(secret), 'hex');
  }

  /** Compares digests of equal length in constant time: the answer takes as long whatever the token. */
  matches(token: string): boolean {
    return timingSafeEqual(Buffer.from(hashSecret(token), 'hex'), this.hash);
  }
}

import { createHash, randomBytes } from 'node:crypto';

/** What every secret starts with, so that a leaked one is recognisable (secret scanners, logs). */
const SECRET_PREFIX = 'oio_';
/** 32 random bytes, base64url: 43 characters. */
const SECRET_PATTERN = /^oio_[A-Za-z0-9_-]{43}$/;
/** How much of a secret is kept in clear to tell keys apart: the marker and 8 random characters (48 bits). */
const IDENTIFYING_PREFIX_LENGTH = SECRET_PREFIX.length + 8;

/** A new secret: 256 random bits. */
export function generateSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/**
 * SHA-256 of the secret, hex. A fast hash is the right one here: slow password hashes (bcrypt,
 * argon2) exist to make guessing low-entropy passwords expensive, and a 256-bit random secret
 * cannot be guessed however fast the hash is. A fast, deterministic hash also lets every request
 * find its key by one lookup on a unique index, so revocation needs no cache to invalidate.
 */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Whether a bearer token has the shape of a stored key's secret (anything else is not looked up). */
export function looksLikeStoredSecret(token: string): boolean {
  return SECRET_PATTERN.test(token);
}

export function identifyingPrefix(secret: string): string {
  return secret.slice(0, IDENTIFYING_PREFIX_LENGTH);
}

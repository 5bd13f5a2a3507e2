import { createHash, randomBytes } from 'node:crypto';

/** An opaque, URL-safe random token (256 bits). Only its SHA-256 is ever stored. */
export function newOpaqueToken(): string {
  return randomBytes(32).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

import { hash, randomFillSync } from 'node:crypto';

const TOKEN_BYTES = 32;
// Random bytes fetched 128 tokens at a time: one call to the system's CSPRNG costs about as much for 4 KiB as for
// 32 bytes (~10 µs here, more under load), and registration makes two tokens. Each byte is handed out once.
const pool = Buffer.alloc(TOKEN_BYTES * 128);
let offset = pool.length;

/** An opaque, URL-safe random token (256 bits). Only its SHA-256 is ever stored. */
export function newOpaqueToken(): string {
  if (offset === pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const token = pool.toString('base64url', offset, offset + TOKEN_BYTES);
  offset += TOKEN_BYTES;
  return token;
}

export function hashToken(token: string): string {
  return hash('sha256', token, 'hex');
}

import { randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';

/**
 * Argon2id with @node-rs/argon2's defaults (m=19456 KiB, t=2, p=1: OWASP's recommendation). Hashing runs on
 * libuv's thread pool, so it never blocks the event loop.
 */
export function createPasswordHasher() {
  let dummyHash: Promise<string> | null = null;
  const dummy = () => (dummyHash ??= hash(randomBytes(16).toString('hex')));

  async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
    try {
      return await verify(passwordHash, password);
    } catch {
      return false;
    }
  }

  return {
    hash: (password: string): Promise<string> => hash(password),
    verify: verifyPassword,
    /** The time of a real verification for an e-mail without an account, so response times do not tell which exist. */
    async verifyDummy(password: string): Promise<false> {
      await verifyPassword(await dummy(), password);
      return false;
    },
    /** Computes the dummy hash ahead of the first failed login. */
    async warmUp(): Promise<void> {
      await dummy();
    },
  };
}

export type PasswordHasher = ReturnType<typeof createPasswordHasher>;

import { randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';

/**
 * Argon2id with @node-rs/argon2's defaults (m=19456 KiB, t=2, p=1: OWASP's recommendation). Hashing runs on
 * libuv's thread pool, so it never blocks the event loop.
 */
export class PasswordHasher {
  private dummyHash: Promise<string> | null = null;

  hash(password: string): Promise<string> {
    return hash(password);
  }

  async verify(passwordHash: string, password: string): Promise<boolean> {
    try {
      return await verify(passwordHash, password);
    } catch {
      return false;
    }
  }

  /**
   * Spends the same time as a real verification, for an e-mail that has no account, so response times do not
   * reveal which addresses are registered.
   */
  async verifyDummy(password: string): Promise<false> {
    this.dummyHash ??= hash(randomBytes(16).toString('hex'));
    await this.verify(await this.dummyHash, password);
    return false;
  }

  /** Computes the dummy hash ahead of the first failed login. */
  async warmUp(): Promise<void> {
    this.dummyHash ??= hash(randomBytes(16).toString('hex'));
    await this.dummyHash;
  }
}

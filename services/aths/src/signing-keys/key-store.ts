import { createPrivateKey, sign as signBytes, type KeyObject } from 'node:crypto';
import { desc, gt, isNull, lt, or } from 'drizzle-orm';
import { calculateJwkThumbprint, createLocalJWKSet, exportJWK, generateKeyPair, type JWK, type JWTVerifyGetKey } from 'jose';
import { ACCESS_TOKEN_TYP, ACCESS_TOKEN_USE, type AccessClaims, type Database, type Logger } from '@shop/service-kit';
import { signingKeys, type SigningKeyRow } from './schema.ts';

const SIGNING_ALGORITHM = 'EdDSA';

export interface KeyStoreOptions {
  issuer: string;
  audience: string;
  /** Access-token lifetime in seconds: how long a retired key must stay published. */
  accessTokenTtlSeconds: number;
  /** How often an instance re-reads the keys (to follow a rotation done elsewhere). Default 30 s. */
  refreshIntervalMs?: number;
  logger?: Logger;
}

interface Snapshot {
  current: { kid: string; privateKey: KeyObject };
  published: JWK[];
  verifyKeys: JWTVerifyGetKey;
  loadedAt: number;
}

/** Margin for clock skew between instances and verifiers. */
const SKEW_MS = 60_000;
/** Retired keys are deleted from the database a day after they left the JWKS. */
const DELETE_AFTER_MS = 24 * 3600_000;

async function newKeyRow(): Promise<Omit<SigningKeyRow, 'createdAt' | 'retiredAt'>> {
  const { publicKey, privateKey } = await generateKeyPair(SIGNING_ALGORITHM, { crv: 'Ed25519', extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const privateJwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  return {
    kid,
    algorithm: SIGNING_ALGORITHM,
    publicJwk: { ...publicJwk, kid, alg: SIGNING_ALGORITHM, use: 'sig' },
    privateJwk: { ...privateJwk, kid, alg: SIGNING_ALGORITHM },
  };
}

/**
 * Ed25519 signing keys kept in the database so every instance and restart signs with the same ones; a retired key
 * stays in the JWKS while its tokens live (docs/aths.md, "Signing keys and rotation").
 */
export function createSigningKeyStore(db: Database, options: KeyStoreOptions) {
  const refreshIntervalMs = options.refreshIntervalMs ?? 30_000;
  /** How long a retired key stays published. */
  const retentionMs = options.accessTokenTtlSeconds * 1000 + refreshIntervalMs + SKEW_MS;
  let snapshot: Snapshot | null = null;
  let loading: Promise<Snapshot> | null = null;
  let lastUnknownKidReload = 0;

  async function ensureCurrentKey(): Promise<void> {
    const [current] = await db.select({ kid: signingKeys.kid }).from(signingKeys).where(isNull(signingKeys.retiredAt));
    if (current) return;
    const row = await newKeyRow();
    // Two instances starting together: the partial unique index lets one insert win; the other does nothing.
    const inserted = await db.insert(signingKeys).values(row).onConflictDoNothing().returning({ kid: signingKeys.kid });
    if (inserted.length > 0) options.logger?.info({ kid: row.kid }, 'generated the access-token signing key');
  }

  async function load(): Promise<Snapshot> {
    const publishedSince = new Date(Date.now() - retentionMs);
    const rows = await db
      .select()
      .from(signingKeys)
      .where(or(isNull(signingKeys.retiredAt), gt(signingKeys.retiredAt, publishedSince)))
      .orderBy(desc(signingKeys.createdAt));
    let currentRow = rows.find((row) => row.retiredAt === null);
    if (!currentRow) {
      // Between a retirement and its replacement in another instance's transaction, or the key was removed.
      await ensureCurrentKey();
      const [row] = await db.select().from(signingKeys).where(isNull(signingKeys.retiredAt));
      if (!row) throw new Error('No current signing key');
      currentRow = row;
      if (!rows.some((r) => r.kid === row.kid)) rows.unshift(row);
    }
    const privateKey = createPrivateKey({ key: currentRow.privateJwk as never, format: 'jwk' });
    const published = rows.map((row) => row.publicJwk);
    snapshot = {
      current: { kid: currentRow.kid, privateKey },
      published,
      verifyKeys: createLocalJWKSet({ keys: published }),
      loadedAt: Date.now(),
    };
    return snapshot;
  }

  /** Re-reads the keys from the database (single flight). */
  function reload(): Promise<Snapshot> {
    loading ??= load().finally(() => {
      loading = null;
    });
    return loading;
  }

  async function fresh(): Promise<Snapshot> {
    if (snapshot && Date.now() - snapshot.loadedAt < refreshIntervalMs) return snapshot;
    if (snapshot) {
      // Serve the current keys at once and refresh in the background.
      void reload().catch((error: unknown) => options.logger?.warn({ err: error }, 'reloading signing keys failed'));
      return snapshot;
    }
    return reload();
  }

  /** Key resolver for jose's jwtVerify; an unknown `kid` triggers (at most once a second) a reload. */
  const getKey: JWTVerifyGetKey = async (header, token) => {
    let current = await fresh();
    const known = current.published.some((key) => key.kid === header.kid);
    if (!known && Date.now() - lastUnknownKidReload > 1_000) {
      lastUnknownKidReload = Date.now();
      current = await reload();
    }
    return current.verifyKeys(header, token);
  };

  return {
    retentionMs,
    reload,
    getKey,

    /** Makes sure a current key exists and loads the keys. */
    async init(): Promise<void> {
      await ensureCurrentKey();
      await reload();
    },

    /** The public keys verifiers should accept (current and recently retired). */
    async jwks(): Promise<{ keys: JWK[] }> {
      return { keys: (await fresh()).published };
    },

    /**
     * Signs an access token (RFC 9068 style: typ at+jwt, token_use access) with node:crypto's synchronous Ed25519
     * (about 50 µs), which unlike WebCrypto does not queue behind Argon2 hashes on libuv's pool. Verification
     * (ours and CRMS's) is jose's, through the kit's accessTokenVerifier.
     */
    async sign(claims: AccessClaims, ttlSeconds = options.accessTokenTtlSeconds): Promise<string> {
      const { current } = await fresh();
      const now = Math.floor(Date.now() / 1000);
      const header = { alg: SIGNING_ALGORITHM, kid: current.kid, typ: ACCESS_TOKEN_TYP };
      const payload = {
        userId: claims.userId,
        email: claims.email,
        role: claims.role,
        token_use: ACCESS_TOKEN_USE,
        sub: claims.userId,
        iss: options.issuer,
        aud: options.audience,
        iat: now,
        exp: now + ttlSeconds,
      };
      const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
      return `${input}.${signBytes(null, Buffer.from(input), current.privateKey).toString('base64url')}`;
    },

    /**
     * Retires the current key and creates a new one, in one transaction; returns both kids. Other instances pick the
     * new key up within the refresh interval, and the old key stays published long enough for their tokens.
     */
    async rotate(): Promise<{ retiredKid: string | null; kid: string }> {
      const row = await newKeyRow();
      const now = new Date();
      const retired = await db.transaction(async (tx) => {
        const old = await tx.update(signingKeys).set({ retiredAt: now }).where(isNull(signingKeys.retiredAt)).returning({ kid: signingKeys.kid });
        await tx.insert(signingKeys).values(row);
        await tx.delete(signingKeys).where(lt(signingKeys.retiredAt, new Date(now.getTime() - retentionMs - DELETE_AFTER_MS)));
        return old[0]?.kid ?? null;
      });
      options.logger?.info({ kid: row.kid, retiredKid: retired }, 'rotated the access-token signing key');
      await reload();
      return { retiredKid: retired, kid: row.kid };
    },

    /** The kid currently used for signing. */
    async currentKid(): Promise<string> {
      return (await fresh()).current.kid;
    },
  };
}

export type SigningKeyStore = ReturnType<typeof createSigningKeyStore>;

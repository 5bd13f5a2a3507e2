import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

export interface FakeAthsUser {
  _id: string;
  email: string;
  fullName: string;
  contactNumber: string;
  role: 'Customer' | 'Administrator';
  isActive: boolean;
}

export interface TokenOptions {
  sub: string;
  role?: string;
  email?: string;
  issuer?: string;
  audience?: string;
  /** Seconds from now; negative for an already expired token. */
  expiresIn?: number;
  typ?: string;
  tokenUse?: string;
  /** Sign with a key ATHS does not publish (same kid as the real one unless `kid` says otherwise). */
  foreign?: boolean;
  kid?: string;
}

interface SigningKey {
  kid: string;
  alg: 'EdDSA' | 'ES256';
  privateKey: CryptoKey;
  publicJwk: JWK;
}

async function makeKey(alg: 'EdDSA' | 'ES256', kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicJwk };
}

/**
 * A small real ATHS stand-in on a random port: publishes a JWKS, answers the internal user look-up (checking the
 * x-api-key), signs access tokens like ATHS does, and can be switched "down" (every request answers 503, or the
 * socket is destroyed).
 */
export class FakeAths {
  readonly users = new Map<string, FakeAthsUser>();
  readonly requests: { method: string; url: string; apiKey: string | undefined }[] = [];
  /** 'up' | 'error' (answers 503) | 'drop' (destroys the connection). */
  mode: 'up' | 'error' | 'drop' = 'up';
  jwksFetches = 0;
  private server!: Server;
  private keys: SigningKey[] = [];
  private foreignKey!: SigningKey;
  url = '';

  constructor(
    readonly apiKey: string,
    readonly issuer = 'aths',
    readonly audience = 'shop',
  ) {}

  async start(): Promise<this> {
    this.keys = [await makeKey('EdDSA', `k-${randomBytes(4).toString('hex')}`)];
    this.foreignKey = await makeKey('EdDSA', this.keys[0]!.kid);
    this.server = createServer((request, response) => this.handle(request, response));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Adds an ES256 key (new kid) to the published set and signs with it from now on. */
  async rotate(alg: 'EdDSA' | 'ES256' = 'ES256'): Promise<void> {
    this.keys.unshift(await makeKey(alg, `k-${randomBytes(4).toString('hex')}`));
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  addUser(user: FakeAthsUser): FakeAthsUser {
    this.users.set(user._id, user);
    return user;
  }

  async token(options: TokenOptions): Promise<string> {
    const key = options.foreign ? this.foreignKey : this.keys[0]!;
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      userId: options.sub,
      email: options.email ?? `${options.sub}@example.com`,
      role: options.role ?? 'Customer',
      token_use: options.tokenUse ?? 'access',
    })
      .setProtectedHeader({ alg: key.alg, kid: options.kid ?? key.kid, typ: options.typ ?? 'at+jwt' })
      .setSubject(options.sub)
      .setIssuer(options.issuer ?? this.issuer)
      .setAudience(options.audience ?? this.audience)
      .setIssuedAt(now - (options.expiresIn !== undefined && options.expiresIn < 0 ? 3600 : 0))
      .setExpirationTime(now + (options.expiresIn ?? 1800))
      .sign(key.privateKey);
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const apiKey = typeof request.headers['x-api-key'] === 'string' ? request.headers['x-api-key'] : undefined;
    this.requests.push({ method: request.method ?? 'GET', url: request.url ?? '/', apiKey });
    if (this.mode === 'drop') {
      request.socket.destroy();
      return;
    }
    const send = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    if (this.mode === 'error') return send(503, { success: false, message: 'Service unavailable', errors: [] });
    const path = (request.url ?? '/').split('?')[0]!;
    if (request.method === 'GET' && path === '/.well-known/jwks.json') {
      this.jwksFetches++;
      return send(200, { keys: this.keys.map((key) => key.publicJwk) });
    }
    const match = /^\/api\/internal\/user\/([^/]+)$/.exec(path);
    if (request.method === 'GET' && match) {
      if (apiKey !== this.apiKey) {
        return send(401, {
          success: false,
          message: 'Invalid or missing service API key',
          errors: [{ field: 'authentication', message: 'Service API key authentication required' }],
        });
      }
      const user = this.users.get(decodeURIComponent(match[1]!));
      if (!user) return send(404, { success: false, message: 'User not found', errors: [{ field: 'userId', message: 'User not found' }] });
      const now = new Date().toISOString();
      return send(200, {
        success: true,
        message: 'User retrieved successfully',
        data: { user: { ...user, address: null, emailVerified: true, createdAt: now, updatedAt: now } },
      });
    }
    send(404, { success: false, message: 'Route not found', errors: [{ field: 'path', message: 'not found' }] });
  }
}

export async function startFakeAths(apiKey = 'aths-internal-key-for-tests-0123456789'): Promise<FakeAths> {
  return new FakeAths(apiKey).start();
}

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64url, decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import { isNull } from 'drizzle-orm';
import { testDatabaseDrivers } from '@shop/service-kit/testing';
import { createSigningKeyStore } from '../src/signing-keys/key-store.ts';
import { signingKeys } from '../src/signing-keys/schema.ts';
import { adminSession, API_KEY, bearer, login, register, startAths, uniqueEmail, type TestAths } from './helpers.ts';

describe.each(testDatabaseDrivers())('ATHS tokens, JWKS, bearer and internal API on %s', (driver) => {
  let aths: TestAths;

  beforeAll(async () => {
    aths = await startAths(driver);
  });
  afterAll(async () => aths?.close());

  const profile = (headers: Record<string, string>) => aths.app.inject({ method: 'GET', url: '/api/user/profile', headers });
  const expectError = (res: { statusCode: number; json(): { errors: { field: string }[]; success: boolean } }, status: number, field: string) => {
    expect(res.statusCode).toBe(status);
    expect(res.json().success).toBe(false);
    expect(res.json().errors[0]!.field).toBe(field);
  };

  it('issues EdDSA at+jwt access tokens with the contract claims, verified by the kit verifier', async () => {
    const { accessToken, user } = await register(aths.app);
    const header = decodeProtectedHeader(accessToken);
    expect(header).toMatchObject({ alg: 'EdDSA', typ: 'at+jwt', kid: expect.any(String) });
    const payload = JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString());
    expect(payload).toMatchObject({ sub: user._id, userId: user._id, email: user.email, role: 'Customer', iss: 'aths', aud: 'shop', token_use: 'access' });
    expect(payload.exp - payload.iat).toBe(1800);
    const jwks = (await aths.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
    expect(jwks.keys.map((k: { kid: string }) => k.kid)).toContain(header.kid);
    expect(jwks.keys[0]).not.toHaveProperty('d');
    expect((await profile(bearer(accessToken))).statusCode).toBe(200);
  });

  it('bearer failures: 401 authorization, 401 token (bad, tampered, expired, wrong alg, refresh token), 403 role, 403 account', async () => {
    const { accessToken, refreshToken, user } = await register(aths.app);
    expectError(await profile({}), 401, 'authorization');
    expectError(await profile({ authorization: `Basic ${accessToken}` }), 401, 'authorization');
    expectError(await profile({ authorization: 'Bearer' }), 401, 'authorization');
    expectError(await profile(bearer('garbage')), 401, 'token');
    expectError(await profile(bearer(refreshToken)), 401, 'token');

    const [h, p, s] = accessToken.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString());
    const forged = base64url.encode(JSON.stringify({ ...claims, role: 'Administrator' }));
    expectError(await profile(bearer(`${h}.${forged}.${s}`)), 401, 'token');
    const flipped = s!.slice(0, -2) + (s!.endsWith('AA') ? 'BA' : 'AA');
    expectError(await profile(bearer(`${h}.${p}.${flipped}`)), 401, 'token');

    const kid = decodeProtectedHeader(accessToken).kid;
    const none = `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'at+jwt', kid }))}.${p}.`;
    expectError(await profile(bearer(none)), 401, 'token');

    const jwks = (await aths.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
    const publicKey = jwks.keys.find((k: { kid: string }) => k.kid === kid);
    for (const secret of [base64url.decode(publicKey.x), new TextEncoder().encode(JSON.stringify(publicKey))]) {
      const hs = await new SignJWT({ ...claims, role: 'Administrator' }).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid }).sign(secret);
      expectError(await profile(bearer(hs)), 401, 'token');
    }

    // A token signed by a foreign key that claims our kid.
    const foreign = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const fake = await new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid }).sign(foreign.privateKey);
    expectError(await profile(bearer(fake)), 401, 'token');
    // Right key, already expired.
    const keys = aths.app.aths.keys;
    const expired = await keys.sign({ userId: user._id, email: user.email, role: 'Customer' }, -10);
    const expiredRes = await profile(bearer(expired));
    expectError(expiredRes, 401, 'token');
    expect(expiredRes.json().errors[0].message).toMatch(/expired/);

    const customerOnAdmin = await aths.app.inject({ method: 'GET', url: '/api/admin/stats', headers: bearer(accessToken) });
    expectError(customerOnAdmin, 403, 'role');
    await aths.app.aths.administration.setActive(user._id, false, 'admin');
    expectError(await profile(bearer(accessToken)), 403, 'account');
  });

  it('a short-lived token expires', async () => {
    const { user } = await register(aths.app);
    // exp is whole seconds (iat floored + TTL), so a TTL of n seconds is valid for at least n − 1 s: 3 s leaves the
    // first call 2 s even on a loaded machine, and 3.2 s later the token has certainly expired.
    const token = await aths.app.aths.keys.sign({ userId: user._id, email: user.email, role: 'Customer' }, 3);
    const signedAt = Date.now();
    expect((await profile(bearer(token))).statusCode).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, signedAt + 3_200 - Date.now())));
    expectError(await profile(bearer(token)), 401, 'token');
  });

  it('a rotated key keeps old tokens valid; new tokens use the new kid; both are in the JWKS', async () => {
    const { accessToken, email } = await register(aths.app);
    const oldKid = decodeProtectedHeader(accessToken).kid!;
    const { kid, retiredKid } = await aths.app.aths.keys.rotate();
    expect(retiredKid).toBe(oldKid);
    expect(kid).not.toBe(oldKid);
    const kids = (await aths.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json().keys.map((k: { kid: string }) => k.kid);
    expect(kids).toEqual(expect.arrayContaining([oldKid, kid]));
    expect((await profile(bearer(accessToken))).statusCode).toBe(200);
    const fresh = (await login(aths.app, email)).json().data.accessToken;
    expect(decodeProtectedHeader(fresh).kid).toBe(kid);
    expect((await profile(bearer(fresh))).statusCode).toBe(200);
  });

  it('another instance follows a rotation (unknown kid → reload) and concurrent key creation makes one key', async () => {
    const other = createSigningKeyStore(aths.database.db, { issuer: 'aths', audience: 'shop', accessTokenTtlSeconds: 1800 });
    await other.init();
    const { kid } = await other.rotate();
    const { user } = await register(aths.app);
    const token = await other.sign({ userId: user._id, email: user.email, role: 'Customer' });
    expect((await profile(bearer(token))).statusCode).toBe(200);

    // No current key (as on a fresh database), several instances start at once: exactly one key is created.
    await aths.database.db.update(signingKeys).set({ retiredAt: new Date() }).where(isNull(signingKeys.retiredAt));
    const stores = Array.from({ length: 4 }, () => createSigningKeyStore(aths.database.db, { issuer: 'aths', audience: 'shop', accessTokenTtlSeconds: 1800 }));
    await Promise.all(stores.map((store) => store.init()));
    const current = await aths.database.db.select().from(signingKeys).where(isNull(signingKeys.retiredAt));
    expect(current).toHaveLength(1);
    const kids = await Promise.all(stores.map((store) => store.currentKid()));
    expect(new Set(kids).size).toBe(1);
    expect(kids[0]).not.toBe(kid);
    await aths.app.aths.keys.reload();
    expect(await aths.app.aths.keys.currentKid()).toBe(kids[0]);
  });

  describe('internal API', () => {
    const key = { 'x-service-api-key': API_KEY };

    it('refuses a missing or wrong key with the integration guide\'s body, accepts either header and every listed key', async () => {
      const { user } = await register(aths.app);
      for (const headers of [{}, { 'x-api-key': 'wrong' }, { 'x-service-api-key': '' }]) {
        const res = await aths.app.inject({ method: 'GET', url: `/api/internal/user/${user._id}`, headers });
        expect(res.statusCode).toBe(401);
        expect(res.json()).toEqual({
          success: false,
          message: 'Invalid or missing service API key',
          errors: [{ field: 'authentication', message: 'Service API key authentication required' }],
        });
      }
      for (const headers of [key, { 'x-api-key': API_KEY }, { 'x-api-key': 'second-key' }]) {
        expect((await aths.app.inject({ method: 'GET', url: `/api/internal/user/${user._id}`, headers })).statusCode).toBe(200);
      }
    });

    it('validates tokens', async () => {
      const { accessToken, refreshToken, user } = await register(aths.app);
      const validate = (token: string) => aths.app.inject({ method: 'POST', url: '/api/internal/validate-token', headers: key, payload: { token } });
      const ok = await validate(accessToken);
      expect(ok.statusCode).toBe(200);
      expect(ok.json().data).toEqual({ valid: true, userId: user._id, email: user.email, role: 'Customer' });
      for (const token of ['nope', refreshToken]) {
        const bad = await validate(token);
        expect(bad.statusCode).toBe(401);
        expect(bad.json()).toMatchObject({ success: false, data: { valid: false } });
      }
      await aths.app.aths.administration.setActive(user._id, false, 'admin');
      expect((await validate(accessToken)).json().data).toEqual({ valid: false });
    });

    it('looks users up by id and e-mail; 404 and 400 for malformed ids', async () => {
      const { user, email } = await register(aths.app);
      const byId = await aths.app.inject({ method: 'GET', url: `/api/internal/user/${user._id.toUpperCase()}`, headers: key });
      expect(byId.json().data.user).toMatchObject({ _id: user._id, email, contactNumber: expect.any(String) });
      const byEmail = await aths.app.inject({ method: 'GET', url: `/api/internal/user/email/${encodeURIComponent(email.toUpperCase())}`, headers: key });
      expect(byEmail.statusCode).toBe(200);
      expect(byEmail.json().data.user._id).toBe(user._id);
      const missing = await aths.app.inject({ method: 'GET', url: `/api/internal/user/${'0'.repeat(24)}`, headers: key });
      expect(missing.statusCode).toBe(404);
      expect(missing.json().errors[0].field).toBe('userId');
      expect((await aths.app.inject({ method: 'GET', url: `/api/internal/user/email/${uniqueEmail('none')}`, headers: key })).statusCode).toBe(404);
      const malformed = await aths.app.inject({ method: 'GET', url: '/api/internal/user/xyz', headers: key });
      expect(malformed.statusCode).toBe(400);
      expect(malformed.json().errors[0].field).toBe('path -> userId');
    });

    it('sets the active status (deactivation revokes refresh tokens)', async () => {
      const { user, refreshToken } = await register(aths.app);
      const patch = (isActive: unknown, id = user._id) =>
        aths.app.inject({ method: 'PATCH', url: `/api/internal/user/${id}/status`, headers: key, payload: { isActive } });
      const off = await patch(false);
      expect(off.statusCode).toBe(200);
      expect(off.json().data.user.isActive).toBe(false);
      expect((await aths.app.inject({ method: 'POST', url: '/api/auth/refresh-token', payload: { refreshToken } })).statusCode).toBe(401);
      expect((await patch(false)).statusCode).toBe(200);
      expect((await patch(true)).json().data.user.isActive).toBe(true);
      expect((await patch('yes')).statusCode).toBe(400);
      expect((await patch(true, '0'.repeat(24))).statusCode).toBe(404);
    });
  });

  it('documents every route in OpenAPI with tags, summary and security', async () => {
    const doc = (await aths.app.inject({ method: 'GET', url: '/docs/json' })).json();
    const paths = Object.keys(doc.paths);
    for (const path of ['/api/auth/register', '/api/auth/login', '/api/admin/users/{userId}/role', '/api/internal/validate-token', '/.well-known/jwks.json']) {
      expect(paths).toContain(path);
    }
    for (const [path, methods] of Object.entries(doc.paths as Record<string, Record<string, { tags?: string[]; summary?: string; security?: unknown }>>)) {
      if (!path.startsWith('/api/')) continue;
      for (const op of Object.values(methods)) {
        expect(op.tags?.length, path).toBeGreaterThan(0);
        expect(op.summary, path).toBeTruthy();
        expect(op.security, path).toBeDefined();
      }
    }
    await adminSession(aths.app);
  });
});

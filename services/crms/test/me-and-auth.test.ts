import { SignJWT, base64url } from 'jose';
import { testDatabaseDrivers } from '@shop/service-kit/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.ts';
import { loadCrmsConfig } from '../src/config.ts';
import { API_KEY, createCustomer, customerInput, newUserId, startHarness, type Harness } from './support/harness.ts';

const tokenError = { success: false, message: 'Invalid or expired token' };

describe.each(testDatabaseDrivers())('CRMS bearer tokens and /me on %s', (driver) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(driver, { jwks: { cooldownMs: 0 } });
  });
  afterAll(async () => h?.close());
  beforeEach(() => {
    h.aths.mode = 'up';
  });

  const me = (token?: string, path = '/api/customers/me') =>
    h.app.inject({ method: 'GET', url: path, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });

  /** A Customer known to ATHS, with a CRMS record. */
  async function provisionedCustomer() {
    const input = customerInput({ email: `c${Date.now()}@example.com` });
    const created = (await createCustomer(h.app, input)).json().data;
    return { userId: input.userId, customerId: created.customerId as string, token: await h.customerToken(input.userId) };
  }

  describe('token checks', () => {
    it('401 field authorization without a usable Authorization header', async () => {
      for (const headers of [{}, { authorization: 'Basic abc' }, { authorization: 'Bearer' }, { authorization: 'Bearer a b' }]) {
        const res = await h.app.inject({ method: 'GET', url: '/api/customers/me', headers });
        expect(res.statusCode).toBe(401);
        expect(res.json()).toEqual({
          success: false,
          message: 'Access token is required',
          errors: [{ field: 'authorization', message: 'Send an Authorization: Bearer <access token> header' }],
        });
      }
    });

    it('401 field token for expired, foreign-signed, wrong issuer/audience/typ/token_use and garbage tokens', async () => {
      const sub = newUserId();
      const tokens = {
        expired: await h.aths.token({ sub, expiresIn: -60 }),
        foreign: await h.aths.token({ sub, foreign: true }),
        foreignUnknownKid: await h.aths.token({ sub, foreign: true, kid: 'unknown-kid' }),
        issuer: await h.aths.token({ sub, issuer: 'someone-else' }),
        audience: await h.aths.token({ sub, audience: 'other' }),
        typ: await h.aths.token({ sub, typ: 'JWT' }),
        refresh: await h.aths.token({ sub, tokenUse: 'refresh' }),
        role: await h.aths.token({ sub, role: 'Root' }),
        garbage: 'not.a.jwt',
      };
      for (const [name, token] of Object.entries(tokens)) {
        const res = await me(token);
        expect(res.statusCode, name).toBe(401);
        expect(res.json(), name).toMatchObject(tokenError);
        expect(res.json().errors[0].field, name).toBe('token');
      }
      expect((await me(tokens.expired)).json().errors[0].message).toBe('The access token has expired');
    });

    it('rejects alg none and HS256 tokens', async () => {
      const sub = newUserId();
      const claims = { sub, userId: sub, email: 'x@example.com', role: 'Administrator', token_use: 'access', iss: 'aths', aud: 'shop', iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 600 };
      const none = `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'at+jwt' }))}.${base64url.encode(JSON.stringify(claims))}.`;
      const hs256 = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' }).sign(new TextEncoder().encode('a-shared-secret-of-enough-length!!'));
      for (const token of [none, hs256]) {
        const res = await me(token, '/api/customers');
        expect(res.statusCode).toBe(401);
        expect(res.json().errors[0].field).toBe('token');
      }
    });

    it('403 field role for a Customer on administrator routes', async () => {
      const { token, customerId } = await provisionedCustomer();
      for (const [method, url] of [
        ['GET', '/api/customers'],
        ['GET', '/api/customers/search?q=ab'],
        ['GET', '/api/customers/analytics'],
        ['GET', `/api/customers/${customerId}`],
        ['DELETE', `/api/customers/${customerId}`],
      ] as const) {
        const res = await h.app.inject({ method, url, headers: { authorization: `Bearer ${token}` } });
        expect(res.statusCode, url).toBe(403);
        expect(res.json()).toEqual({
          success: false,
          message: 'Insufficient permissions',
          errors: [{ field: 'role', message: 'This action requires role Administrator' }],
        });
      }
    });

    it('checks the token before validating the request', async () => {
      const res = await h.app.inject({ method: 'GET', url: '/api/customers/not-an-id' });
      expect(res.statusCode).toBe(401);
    });

    it('accepts ES256 tokens from a rotated key (JWKS refetched on an unknown kid)', async () => {
      const { userId } = await provisionedCustomer();
      const before = h.aths.jwksFetches;
      await h.aths.rotate('ES256');
      const res = await me(await h.customerToken(userId));
      expect(res.statusCode).toBe(200);
      expect(h.aths.jwksFetches).toBe(before + 1);
      // Cached afterwards.
      expect((await me(await h.customerToken(userId))).statusCode).toBe(200);
      expect(h.aths.jwksFetches).toBe(before + 1);
    });

    it('answers 503 in the envelope when the JWKS cannot be fetched', async () => {
      const config = loadCrmsConfig(
        { NODE_ENV: 'test', LOG_LEVEL: 'silent', SERVICE_API_KEYS: API_KEY, ATHS_BASE_URL: h.aths.url, ATHS_SERVICE_API_KEY: h.aths.apiKey },
        () => undefined,
      );
      const cold = await buildApp(config, { database: h.database });
      try {
        const token = await h.customerToken(newUserId());
        for (const mode of ['error', 'drop'] as const) {
          h.aths.mode = mode;
          const res = await cold.inject({ method: 'GET', url: '/api/customers/me', headers: { authorization: `Bearer ${token}` } });
          expect(res.statusCode, mode).toBe(503);
          expect(res.json()).toMatchObject({ success: false, message: 'Authentication service unavailable', errors: [{ field: 'aths' }] });
        }
      } finally {
        await cold.close();
      }
      const down = await buildApp({ ...config, ATHS_BASE_URL: 'http://127.0.0.1:9' }, { database: h.database });
      try {
        const res = await down.inject({ method: 'GET', url: '/api/customers/me', headers: { authorization: `Bearer ${await h.customerToken(newUserId())}` } });
        expect(res.statusCode).toBe(503);
      } finally {
        await down.close();
      }
    });
  });

  describe('JWKS outage', () => {
    it('keeps verifying with the last fetched keys while ATHS is down (known kid), 503 for an unknown kid or after maxStale', async () => {
      const config = loadCrmsConfig(
        { NODE_ENV: 'test', LOG_LEVEL: 'silent', SERVICE_API_KEYS: API_KEY, ATHS_BASE_URL: h.aths.url, ATHS_SERVICE_API_KEY: h.aths.apiKey },
        () => undefined,
      );
      const { userId } = await provisionedCustomer();
      const token = await h.customerToken(userId);
      const probe = (app: typeof h.app, bearer = token) =>
        app.inject({ method: 'GET', url: '/api/customers/me', headers: { authorization: `Bearer ${bearer}` } });
      const app = await buildApp(config, { database: h.database, jwks: { cacheMaxAgeMs: 20, cooldownMs: 0, maxStaleMs: 60_000 } });
      const strict = await buildApp(config, { database: h.database, jwks: { cacheMaxAgeMs: 20, cooldownMs: 0, maxStaleMs: 0 } });
      try {
        expect((await probe(app)).statusCode).toBe(200);
        expect((await probe(strict)).statusCode).toBe(200);
        h.aths.mode = 'drop';
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect((await probe(app)).statusCode).toBe(200);
        expect((await probe(strict)).statusCode).toBe(503);
        const unknownKid = await h.aths.token({ sub: userId, kid: 'rotated-while-down' });
        expect((await probe(app, unknownKid)).statusCode).toBe(503);
      } finally {
        h.aths.mode = 'up';
        await app.close();
        await strict.close();
      }
    });
  });

  describe('GET /api/customers/me and /me/statistics', () => {
    it('returns the own record and statistics', async () => {
      const { token, customerId } = await provisionedCustomer();
      const res = await me(token);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ success: true, message: 'Customer profile retrieved successfully', data: { customerId, customerStatus: 'Active' } });
      const stats = await me(token, '/api/customers/me/statistics');
      expect(stats.statusCode).toBe(200);
      expect(stats.json()).toEqual({
        success: true,
        message: 'Customer statistics retrieved successfully',
        data: {
          totalOrders: 0,
          totalOrderValue: 0,
          totalComplaints: 0,
          openComplaints: 0,
          lastOrderDate: null,
          lastComplaintDate: null,
          customerSince: res.json().data.customerSince,
        },
      });
    });

    it('repairs a missing record from ATHS on read (once, even when called in parallel)', async () => {
      const user = h.aths.addUser({ _id: newUserId(), email: 'Late@Example.com', fullName: 'Late Registrant', contactNumber: '+1 555 010 0000', role: 'Customer', isActive: true });
      const token = await h.customerToken(user._id);
      const lookupsBefore = h.aths.requests.filter((r) => r.url.startsWith('/api/internal/user/')).length;
      const responses = await Promise.all(Array.from({ length: 10 }, () => me(token)));
      expect(responses.map((res) => res.statusCode)).toEqual(Array(10).fill(200));
      const ids = new Set(responses.map((res) => res.json().data.customerId));
      expect(ids.size).toBe(1);
      expect(responses[0]!.json().data).toMatchObject({ userId: user._id, email: 'late@example.com', fullName: 'Late Registrant', contactNumber: '+1 555 010 0000', customerStatus: 'Active' });
      const lookups = h.aths.requests.filter((r) => r.url.startsWith('/api/internal/user/'));
      expect(lookups.length).toBeGreaterThan(lookupsBefore);
      expect(lookups.at(-1)).toMatchObject({ method: 'GET', url: `/api/internal/user/${user._id}`, apiKey: h.aths.apiKey });
      // Now a record exists: no further look-up, and the internal create sees it.
      const count = h.aths.requests.length;
      expect((await me(token, '/api/customers/me/statistics')).statusCode).toBe(200);
      expect(h.aths.requests.length).toBe(count);
      expect((await createCustomer(h.app, { userId: user._id, email: user.email, fullName: user.fullName, contactNumber: user.contactNumber })).json().message).toBe('Customer already exists');
    });

    it('404 when ATHS does not know the user, 403 account when the ATHS account is deactivated', async () => {
      const unknown = await me(await h.customerToken(newUserId()));
      expect(unknown.statusCode).toBe(404);
      expect(unknown.json()).toEqual({ success: false, message: 'Customer not found', errors: [{ field: 'userId', message: 'Customer not found' }] });
      const inactive = h.aths.addUser({ _id: newUserId(), email: 'gone@example.com', fullName: 'Gone Away', contactNumber: '+1234567890', role: 'Customer', isActive: false });
      const res = await me(await h.customerToken(inactive._id));
      expect(res.statusCode).toBe(403);
      expect(res.json().errors[0].field).toBe('account');
      const lookup = await h.app.inject({ method: 'GET', url: `/api/customers/internal/user/${inactive._id}`, headers: { 'x-api-key': API_KEY } });
      expect(lookup.statusCode).toBe(404);
    });

    it('503 when ATHS cannot be reached for the repair', async () => {
      const user = h.aths.addUser({ _id: newUserId(), email: 'x@example.com', fullName: 'Xavier Doe', contactNumber: '+1234567890', role: 'Customer', isActive: true });
      const token = await h.customerToken(user._id);
      await me(await h.adminToken()); // JWKS is cached from earlier tests; make sure
      h.aths.mode = 'error';
      const res = await me(token);
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ success: false, errors: [{ field: 'aths' }] });
      h.aths.mode = 'up';
      expect((await me(token)).statusCode).toBe(200);
    });

    it('Administrator without a record gets 404, with one gets it', async () => {
      const res = await me(await h.adminToken());
      expect(res.statusCode).toBe(404);
      expect(res.json().errors).toEqual([{ field: 'userId', message: 'Customer not found' }]);
      const adminUser = newUserId();
      await createCustomer(h.app, customerInput({ userId: adminUser }));
      const withRecord = await me(await h.aths.token({ sub: adminUser, role: 'Administrator' }));
      expect(withRecord.statusCode).toBe(200);
    });

    it('403 field account when the CRMS record is Suspended or Inactive', async () => {
      const { token, customerId } = await provisionedCustomer();
      const admin = await h.adminToken();
      for (const status of ['Suspended', 'Inactive'] as const) {
        await h.app.inject({ method: 'PATCH', url: `/api/customers/${customerId}/status`, headers: { authorization: `Bearer ${admin}` }, payload: { status } });
        for (const path of ['/api/customers/me', '/api/customers/me/statistics']) {
          const res = await me(token, path);
          expect(res.statusCode).toBe(403);
          expect(res.json()).toEqual({ success: false, message: 'Account is not active', errors: [{ field: 'account', message: `This customer account is ${status}` }] });
        }
      }
      await h.app.inject({ method: 'PATCH', url: `/api/customers/${customerId}/status`, headers: { authorization: `Bearer ${admin}` }, payload: { status: 'Active' } });
      expect((await me(token)).statusCode).toBe(200);
    });
  });
});

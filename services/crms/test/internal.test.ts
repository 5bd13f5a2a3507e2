import { testDatabaseDrivers } from '@shop/service-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.ts';
import { loadCrmsConfig } from '../src/config.ts';
import { openCrmsDatabase } from '../src/database.ts';
import { API_KEY, createCustomer, customerInput, SECOND_API_KEY, startHarness, type Harness } from './support/harness.ts';

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const HEX24 = /^[0-9a-f]{24}$/;

describe.each(testDatabaseDrivers())('CRMS internal API on %s', (driver) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(driver);
  });
  afterAll(async () => h?.close());

  describe('POST /api/customers/internal/create', () => {
    it("answers the integration guide's success body with every field and default", async () => {
      const input = customerInput({ email: 'Customer@Example.com' });
      const res = await createCustomer(h.app, input);
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      const body = res.json();
      expect(Object.keys(body)).toEqual(['success', 'message', 'data']);
      expect(body.success).toBe(true);
      expect(body.message).toBe('Customer created successfully');
      // The integration guide's fields in its order, then the contract's createdAt/updatedAt.
      expect(Object.keys(body.data)).toEqual([
        'customerId', 'userId', 'email', 'fullName', 'contactNumber', 'customerStatus', 'customerType', 'totalOrders',
        'totalOrderValue', 'totalComplaints', 'openComplaints', 'lastOrderDate', 'lastComplaintDate', 'customerSince',
        'notes', 'tags', 'preferences', 'metadata', 'createdAt', 'updatedAt',
      ]);
      expect(body.data).toEqual({
        customerId: expect.stringMatching(HEX24),
        userId: input.userId,
        email: 'customer@example.com',
        fullName: 'John Doe',
        contactNumber: '+1234567890',
        customerStatus: 'Active',
        customerType: 'Regular',
        totalOrders: 0,
        totalOrderValue: 0.0,
        totalComplaints: 0,
        openComplaints: 0,
        lastOrderDate: null,
        lastComplaintDate: null,
        customerSince: expect.stringMatching(ISO_MS),
        notes: [],
        tags: [],
        preferences: {},
        metadata: {},
        createdAt: expect.stringMatching(ISO_MS),
        updatedAt: expect.stringMatching(ISO_MS),
      });
      expect(res.body).toContain('"totalOrders":0,"totalOrderValue":0,"totalComplaints":0,"openComplaints":0,"lastOrderDate":null');
      expect(body.data.customerId).not.toBe(input.userId);
      expect(res.headers['x-request-id']).toBeTruthy();
    });

    it('answers "Customer already exists" with the existing record', async () => {
      const input = customerInput();
      const first = (await createCustomer(h.app, input)).json();
      const again = await createCustomer(h.app, { ...input, email: 'other@example.com', fullName: 'Someone Else' });
      expect(again.statusCode).toBe(200);
      expect(again.json()).toEqual({ success: true, message: 'Customer already exists', data: first.data });
    });

    it('is idempotent under 100 simultaneous creates for one userId', async () => {
      const input = customerInput();
      const responses = await Promise.all(Array.from({ length: 100 }, () => createCustomer(h.app, input)));
      expect(responses.map((res) => res.statusCode)).toEqual(Array(100).fill(200));
      const bodies = responses.map((res) => res.json());
      expect(bodies.filter((body) => body.message === 'Customer created successfully')).toHaveLength(1);
      expect(bodies.filter((body) => body.message === 'Customer already exists')).toHaveLength(99);
      expect(new Set(bodies.map((body) => body.data.customerId)).size).toBe(1);
      const rows = await h.database.db.execute(`select count(*)::int as n from customers where user_id = '${input.userId}'` as never);
      expect((rows as { rows: { n: number }[] }).rows[0]!.n).toBe(1);
    });

    it('does not treat email as a uniqueness key', async () => {
      const a = await createCustomer(h.app, customerInput({ email: 'shared@example.com' }));
      const b = await createCustomer(h.app, customerInput({ email: 'SHARED@example.com' }));
      expect(a.json().message).toBe('Customer created successfully');
      expect(b.json().message).toBe('Customer created successfully');
      expect(b.json().data.email).toBe('shared@example.com');
    });

    it("answers the integration guide's 400 body for a bad email", async () => {
      const res = await createCustomer(h.app, customerInput({ email: 'not-an-email' }));
      expect(res.statusCode).toBe(400);
      expect(res.body).toBe(
        JSON.stringify({
          success: false,
          message: 'Validation failed',
          errors: [{ field: 'body -> email', message: 'value is not a valid email address' }],
        }),
      );
    });

    it("answers the integration guide's 401 body for a missing or wrong key, and accepts every configured key", async () => {
      const guide401 = JSON.stringify({
        success: false,
        message: 'Invalid or missing service API key',
        errors: [{ field: 'authentication', message: 'Service API key authentication required' }],
      });
      for (const headers of [{}, { 'x-api-key': 'wrong' }, { 'x-api-key': '' }, { 'x-service-api-key': API_KEY }]) {
        const res = await h.app.inject({ method: 'POST', url: '/api/customers/internal/create', headers, payload: customerInput() });
        expect(res.statusCode).toBe(401);
        expect(res.body).toBe(guide401);
      }
      expect((await createCustomer(h.app, customerInput(), SECOND_API_KEY)).statusCode).toBe(200);
      // The key is checked before the body: a bad body with a bad key is still 401.
      const both = await h.app.inject({ method: 'POST', url: '/api/customers/internal/create', headers: { 'x-api-key': 'x' }, payload: {} });
      expect(both.statusCode).toBe(401);
    });

    const fieldError = async (overrides: Record<string, unknown>) => {
      const res = await createCustomer(h.app, customerInput(overrides));
      return { status: res.statusCode, body: res.json() };
    };

    it('enforces fullName 2–100 characters at and beyond the boundary', async () => {
      expect(await fieldError({ fullName: 'A' })).toEqual({
        status: 400,
        body: { success: false, message: 'Validation failed', errors: [{ field: 'body -> fullName', message: 'must be at least 2 characters' }] },
      });
      expect((await fieldError({ fullName: 'Al' })).status).toBe(200);
      expect((await fieldError({ fullName: 'x'.repeat(100) })).status).toBe(200);
      expect(await fieldError({ fullName: 'x'.repeat(101) })).toEqual({
        status: 400,
        body: { success: false, message: 'Validation failed', errors: [{ field: 'body -> fullName', message: 'must be at most 100 characters' }] },
      });
      expect((await fieldError({ fullName: '   A   ' })).status).toBe(400);
    });

    it('enforces contactNumber 10–20 characters at and beyond the boundary', async () => {
      expect((await fieldError({ contactNumber: '123456789' })).body.errors).toEqual([
        { field: 'body -> contactNumber', message: 'must be at least 10 characters' },
      ]);
      expect((await fieldError({ contactNumber: '1234567890' })).status).toBe(200);
      expect((await fieldError({ contactNumber: '1'.repeat(20) })).status).toBe(200);
      expect((await fieldError({ contactNumber: '1'.repeat(21) })).body.errors).toEqual([
        { field: 'body -> contactNumber', message: 'must be at most 20 characters' },
      ]);
    });

    it('rejects bad email forms', async () => {
      for (const email of ['plain', 'a@b', '@example.com', 'a@@example.com', 'a b@example.com', 'a@example..com', '', 'a@.com']) {
        const { status, body } = await fieldError({ email });
        expect(status, email).toBe(400);
        expect(body.errors).toEqual([{ field: 'body -> email', message: 'value is not a valid email address' }]);
      }
      expect((await fieldError({ email: `${'a'.repeat(250)}@example.com` })).status).toBe(400);
    });

    it('names every missing field and wrong type', async () => {
      const missing = await createCustomer(h.app, {});
      expect(missing.statusCode).toBe(400);
      expect(missing.json().errors).toEqual(
        expect.arrayContaining([
          { field: 'body -> userId', message: 'field required' },
          { field: 'body -> email', message: 'field required' },
          { field: 'body -> fullName', message: 'field required' },
          { field: 'body -> contactNumber', message: 'field required' },
        ]),
      );
      const wrongTypes = await createCustomer(h.app, { userId: 42, email: true, fullName: ['x'], contactNumber: null });
      expect(wrongTypes.statusCode).toBe(400);
      expect(wrongTypes.json().errors).toEqual(
        expect.arrayContaining([
          { field: 'body -> userId', message: 'value must be a string' },
          { field: 'body -> email', message: 'value must be a string' },
          { field: 'body -> fullName', message: 'value must be a string' },
          { field: 'body -> contactNumber', message: 'value must not be null' },
        ]),
      );
      expect((await fieldError({ userId: '' })).body.errors).toEqual([{ field: 'body -> userId', message: 'must be at least 1 characters' }]);
      expect((await fieldError({ userId: 'u'.repeat(256) })).status).toBe(400);
      // Unknown keys are ignored.
      expect((await fieldError({ extra: 'ignored' })).status).toBe(200);
    });

    it('answers non-JSON, malformed, empty, array and oversized bodies with a 4xx envelope', async () => {
      const post = (payload: string, contentType = 'application/json') =>
        h.app.inject({
          method: 'POST',
          url: '/api/customers/internal/create',
          headers: { 'x-api-key': API_KEY, 'content-type': contentType },
          payload,
        });
      const cases = [
        await post('{"userId":'),
        await post('userId=1', 'application/x-www-form-urlencoded'),
        await post('hello', 'text/plain'),
        await post(''),
        await post('[]'),
        await post('"string"'),
        await post('null'),
        await post(JSON.stringify({ ...customerInput(), fullName: 'x'.repeat(100_000) })),
      ];
      for (const res of cases) {
        expect(res.statusCode).toBeGreaterThanOrEqual(400);
        expect(res.statusCode).toBeLessThan(500);
        expect(res.json()).toMatchObject({ success: false, errors: expect.any(Array) });
      }
      expect(cases[0]!.statusCode).toBe(400);
      expect(cases[2]!.statusCode).toBe(415);
      expect(cases[7]!.statusCode).toBe(413);
    });
  });

  describe('POST /api/customers/internal/create when the database fails', () => {
    it("answers the integration guide's 500 body and leaks nothing", async () => {
      const config = loadCrmsConfig(
        { NODE_ENV: 'test', LOG_LEVEL: 'silent', SERVICE_API_KEYS: API_KEY, DATABASE_URL: h.url, DB_POOL_SIZE: '2' },
        () => undefined,
      );
      const database = await openCrmsDatabase(config);
      // No status-sync worker: it would hold a pool connection (LISTEN) that database.close() waits for.
      const app = await buildApp(config, { database, userStatusSync: false });
      try {
        await database.close();
        const res = await createCustomer(app, customerInput());
        expect(res.statusCode).toBe(500);
        expect(res.body).toBe(
          JSON.stringify({
            success: false,
            message: 'Failed to create customer record',
            errors: [{ field: 'server', message: 'An unexpected error occurred. Please try again later.' }],
          }),
        );
      } finally {
        await app.close();
      }
    });
  });

  describe('GET /api/customers/internal/user/:userId', () => {
    it('returns the record or 404 field userId', async () => {
      const input = customerInput();
      const created = (await createCustomer(h.app, input)).json();
      const res = await h.app.inject({ method: 'GET', url: `/api/customers/internal/user/${input.userId}`, headers: { 'x-api-key': API_KEY } });
      expect(res.json()).toEqual({ success: true, message: 'Customer retrieved successfully', data: created.data });
      const missing = await h.app.inject({ method: 'GET', url: '/api/customers/internal/user/unknown-user', headers: { 'x-api-key': API_KEY } });
      expect(missing.statusCode).toBe(404);
      expect(missing.json()).toEqual({ success: false, message: 'Customer not found', errors: [{ field: 'userId', message: 'Customer not found' }] });
      const noKey = await h.app.inject({ method: 'GET', url: `/api/customers/internal/user/${input.userId}` });
      expect(noKey.statusCode).toBe(401);
    });
  });

  describe('PATCH /api/customers/internal/:customerId/statistics', () => {
    const patch = (customerId: string, payload: unknown) =>
      h.app.inject({
        method: 'PATCH',
        url: `/api/customers/internal/${customerId}/statistics`,
        headers: { 'x-api-key': API_KEY },
        payload: payload as Record<string, unknown>,
      });
    const newCustomer = async () => (await createCustomer(h.app, customerInput())).json().data.customerId as string;

    it('sets absolute values and dates', async () => {
      const id = await newCustomer();
      const res = await patch(id, {
        totalOrders: 3,
        totalOrderValue: 150.5,
        totalComplaints: 2,
        openComplaints: 1,
        lastOrderDate: '2026-01-26T10:30:00Z',
        lastComplaintDate: '2026-01-20T08:00:00.123+02:00',
      });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({
        success: true,
        message: 'Customer statistics updated successfully',
        data: {
          customerId: id,
          totalOrders: 3,
          totalOrderValue: 150.5,
          totalComplaints: 2,
          openComplaints: 1,
          lastOrderDate: '2026-01-26T10:30:00.000Z',
          lastComplaintDate: '2026-01-20T06:00:00.123Z',
        },
      });
      const cleared = await patch(id, { lastOrderDate: null });
      expect(cleared.json().data.lastOrderDate).toBeNull();
    });

    it('applies increments and refuses to go below zero with 409', async () => {
      const id = await newCustomer();
      expect((await patch(id, { increment: { totalOrders: 2, totalOrderValue: 19.99, openComplaints: 1 } })).json().data).toMatchObject({
        totalOrders: 2,
        totalOrderValue: 19.99,
        openComplaints: 1,
      });
      const refused = await patch(id, { increment: { totalOrders: -3, openComplaints: -1 } });
      expect(refused.statusCode).toBe(409);
      expect(refused.json()).toEqual({
        success: false,
        message: 'Statistics update refused: a counter would become negative',
        errors: [{ field: 'body -> increment -> totalOrders', message: 'would drive totalOrders below 0' }],
      });
      // Refused as a whole: openComplaints was not decremented either.
      const after = await patch(id, { increment: { openComplaints: -1, totalOrderValue: -19.99 } });
      expect(after.json().data).toMatchObject({ totalOrders: 2, openComplaints: 0, totalOrderValue: 0 });
      // Absolute values and increments of other counters together.
      expect((await patch(id, { totalComplaints: 5, increment: { totalOrders: 1 } })).json().data).toMatchObject({ totalComplaints: 5, totalOrders: 3 });
    });

    it('loses no update under parallel increments and never goes negative under parallel decrements', async () => {
      const id = await newCustomer();
      const increments = await Promise.all(Array.from({ length: 50 }, () => patch(id, { increment: { totalOrders: 1, totalOrderValue: 2.5 } })));
      expect(increments.every((res) => res.statusCode === 200)).toBe(true);
      const decrements = await Promise.all(Array.from({ length: 60 }, () => patch(id, { increment: { totalOrders: -1 } })));
      expect(decrements.filter((res) => res.statusCode === 200)).toHaveLength(50);
      expect(decrements.filter((res) => res.statusCode === 409)).toHaveLength(10);
      const final = await patch(id, { increment: { totalComplaints: 0 } });
      expect(final.json().data).toMatchObject({ totalOrders: 0, totalOrderValue: 125 });
    });

    it('validates the body and the id', async () => {
      const id = await newCustomer();
      const bad = async (payload: unknown) => {
        const res = await patch(id, payload);
        expect(res.statusCode, JSON.stringify(payload)).toBe(400);
        return res.json().errors;
      };
      expect(await bad({ totalOrders: -1 })).toEqual([{ field: 'body -> totalOrders', message: 'must be greater than or equal to 0' }]);
      expect(await bad({ totalOrders: 1.5 })).toEqual([{ field: 'body -> totalOrders', message: 'value must be an integer' }]);
      expect(await bad({ totalOrders: '3' })).toEqual([{ field: 'body -> totalOrders', message: 'value must be a number' }]);
      expect(await bad({ lastOrderDate: 'yesterday' })).toEqual([{ field: 'body -> lastOrderDate', message: 'value is not a valid ISO-8601 date-time' }]);
      expect(await bad({ increment: { totalOrders: 'x' } })).toEqual([{ field: 'body -> increment -> totalOrders', message: 'value must be a number' }]);
      expect(await bad({})).toEqual([{ field: 'body', message: 'at least one statistic or increment must be provided' }]);
      expect(await bad({ totalOrders: 1, increment: { totalOrders: 1 } })).toEqual([
        { field: 'body -> increment -> totalOrders', message: 'cannot set totalOrders and increment it in the same request' },
      ]);
      const badId = await patch('not-an-id', { totalOrders: 1 });
      expect(badId.statusCode).toBe(400);
      expect(badId.json().errors).toEqual([{ field: 'path -> customerId', message: 'must be a 24-character hexadecimal id' }]);
      const unknown = await patch('0123456789abcdef01234567', { totalOrders: 1 });
      expect(unknown.statusCode).toBe(404);
      expect(unknown.json().errors).toEqual([{ field: 'customerId', message: 'Customer not found' }]);
    });

    it('answers 409, not 500, when a counter would overflow', async () => {
      const id = await newCustomer();
      await patch(id, { totalOrders: 1_000_000_000 });
      await patch(id, { increment: { totalOrders: 1_000_000_000 } });
      const overflow = await patch(id, { increment: { totalOrders: 1_000_000_000 } });
      expect(overflow.statusCode).toBe(409);
      expect((await patch(id, { totalOrderValue: 1_000_000_000_000 })).statusCode).toBe(400);
      expect((await patch(id, { totalOrderValue: 999_999_999_999.99 })).json().data.totalOrderValue).toBe(999_999_999_999.99);
      const valueOverflow = await patch(id, { increment: { totalOrderValue: 1 } });
      expect(valueOverflow.statusCode).toBe(409);
      expect(valueOverflow.json().success).toBe(false);
    });
  });

  describe('PATCH /api/customers/internal/user/:userId (profile sync from ATHS)', () => {
    it('updates the copied fields and status, and 404s for an unknown user', async () => {
      const input = customerInput();
      await createCustomer(h.app, input);
      const res = await h.app.inject({
        method: 'PATCH',
        url: `/api/customers/internal/user/${input.userId}`,
        headers: { 'x-api-key': API_KEY },
        payload: { email: 'New@Example.com', fullName: 'Jane Doe', contactNumber: '+44 20 7946 0000', customerStatus: 'Inactive' },
      });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({
        success: true,
        message: 'Customer updated successfully',
        data: { email: 'new@example.com', fullName: 'Jane Doe', contactNumber: '+44 20 7946 0000', customerStatus: 'Inactive' },
      });
      const empty = await h.app.inject({ method: 'PATCH', url: `/api/customers/internal/user/${input.userId}`, headers: { 'x-api-key': API_KEY }, payload: {} });
      expect(empty.statusCode).toBe(400);
      const unknown = await h.app.inject({ method: 'PATCH', url: '/api/customers/internal/user/nobody', headers: { 'x-api-key': API_KEY }, payload: { fullName: 'Jane Doe' } });
      expect(unknown.statusCode).toBe(404);
      expect(unknown.json().errors).toEqual([{ field: 'userId', message: 'Customer not found' }]);
    });
  });
});

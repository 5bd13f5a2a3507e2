import { sql } from 'drizzle-orm';
import { rowsOf, type Transaction } from '@shop/service-kit';
import { testDatabaseDrivers } from '@shop/service-kit/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CustomerStatusChange, CustomerStatusHooks } from '../src/customers/hooks.ts';
import { ADMIN_ID, API_KEY, createCustomer, customerInput, startHarness, type Harness } from './support/harness.ts';

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Records hook calls, and what the transaction it was handed sees (to prove it runs inside the update). */
class RecordingHooks implements CustomerStatusHooks {
  calls: { change: CustomerStatusChange; statusSeenInTx: string; committed: boolean }[] = [];
  afterCommits = 0;
  failNext = false;
  async onCustomerStatusChanged(tx: Transaction, change: CustomerStatusChange) {
    const [row] = await rowsOf<{ customer_status: string }>(tx, sql`select customer_status from customers where id = ${change.customerId}`);
    this.calls.push({ change, statusSeenInTx: row!.customer_status, committed: false });
    if (this.failNext) {
      this.failNext = false;
      throw new Error('outbox write failed');
    }
  }
  afterCommit() {
    this.afterCommits++;
    const last = this.calls.at(-1);
    if (last) last.committed = true;
  }
}

describe.each(testDatabaseDrivers())('CRMS administrator API on %s', (driver) => {
  let h: Harness;
  let admin: string;
  const hooks = new RecordingHooks();
  beforeAll(async () => {
    h = await startHarness(driver, { customerStatusHooks: hooks });
    admin = await h.adminToken();
  });
  afterAll(async () => h?.close());

  const call = (method: 'GET' | 'PUT' | 'PATCH' | 'POST' | 'DELETE', url: string, payload?: unknown) =>
    h.app.inject({ method, url, headers: { authorization: `Bearer ${admin}` }, payload: payload as Record<string, unknown> | undefined });

  async function seed(overrides: Record<string, unknown> = {}) {
    const res = await createCustomer(h.app, customerInput(overrides));
    return res.json().data as { customerId: string; userId: string; [key: string]: unknown };
  }

  const setStats = (customerId: string, payload: Record<string, unknown>) =>
    h.app.inject({ method: 'PATCH', url: `/api/customers/internal/${customerId}/statistics`, headers: { 'x-api-key': API_KEY }, payload });

  describe('list, search and analytics', () => {
    beforeEach(async () => h.reset());

    it('answers an empty list and zeroed analytics on an empty database', async () => {
      const list = await call('GET', '/api/customers');
      expect(list.statusCode).toBe(200);
      // The bare list (no envelope) that the earlier CRMS sent and the mobile app reads.
      expect(list.json()).toEqual({
        items: [],
        pagination: { currentPage: 1, totalPages: 0, totalItems: 0, itemsPerPage: 20, hasNextPage: false, hasPreviousPage: false },
      });
      const analytics = await call('GET', '/api/customers/analytics');
      expect(analytics.json()).toEqual({
        success: true,
        message: 'Customer analytics retrieved successfully',
        data: {
          totalCustomers: 0,
          customersByStatus: { Active: 0, Inactive: 0, Suspended: 0 },
          customersByType: { Regular: 0, Premium: 0, VIP: 0 },
          orderStatistics: { totalOrders: 0, totalOrderValue: 0, averageOrderValue: 0 },
          complaintStatistics: { totalComplaints: 0, openComplaints: 0 },
          newCustomersThisMonth: 0,
          generatedAt: expect.stringMatching(ISO_MS),
        },
      });
    });

    it('paginates, filters and sorts', async () => {
      const names = ['Charlie Brown', 'alice Cooper', 'Bob Marley', 'dave Grohl', 'Eve Online'];
      const created = [];
      for (const fullName of names) created.push(await seed({ fullName }));
      await setStats(created[0]!.customerId, { totalOrders: 5, totalOrderValue: 500, lastOrderDate: '2026-01-01T00:00:00Z' });
      await setStats(created[1]!.customerId, { totalOrders: 2, totalOrderValue: 20.5, lastOrderDate: '2026-02-01T00:00:00Z' });
      await call('PATCH', `/api/customers/${created[2]!.customerId}/type`, { type: 'VIP' });
      await call('PATCH', `/api/customers/${created[3]!.customerId}/status`, { status: 'Suspended' });

      const page1 = (await call('GET', '/api/customers?page=1&limit=2')).json();
      expect(page1.pagination).toEqual({ currentPage: 1, totalPages: 3, totalItems: 5, itemsPerPage: 2, hasNextPage: true, hasPreviousPage: false });
      // Default: newest first.
      expect(page1.items.map((c: { fullName: string }) => c.fullName)).toEqual(['Eve Online', 'dave Grohl']);
      expect(Object.keys(page1.items[0])).not.toContain('notes');
      expect(Object.keys(page1.items[0])).not.toContain('preferences');
      expect(Object.keys(page1.items[0])).not.toContain('metadata');
      const page3 = (await call('GET', '/api/customers?page=3&limit=2')).json();
      expect(page3.items).toHaveLength(1);
      expect(page3.pagination).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
      const beyond = (await call('GET', '/api/customers?page=9&limit=2')).json();
      expect(beyond.items).toEqual([]);
      expect(beyond.pagination.totalItems).toBe(5);

      const byName = (await call('GET', '/api/customers?sortBy=fullName&sortOrder=asc')).json().items.map((c: { fullName: string }) => c.fullName);
      expect(byName).toEqual(['alice Cooper', 'Bob Marley', 'Charlie Brown', 'dave Grohl', 'Eve Online']);
      const byOrders = (await call('GET', '/api/customers?sortBy=totalOrders&sortOrder=desc')).json().items.map((c: { totalOrders: number }) => c.totalOrders);
      expect(byOrders).toEqual([5, 2, 0, 0, 0]);
      const byValueAsc = (await call('GET', '/api/customers?sortBy=totalOrderValue&sortOrder=asc')).json().items.map((c: { totalOrderValue: number }) => c.totalOrderValue);
      expect(byValueAsc).toEqual([0, 0, 0, 20.5, 500]);
      for (const order of ['asc', 'desc']) {
        const byLastOrder = (await call('GET', `/api/customers?sortBy=lastOrderDate&sortOrder=${order}`)).json().items.map((c: { fullName: string }) => c.fullName);
        expect(byLastOrder.slice(0, 2)).toEqual(order === 'asc' ? ['Charlie Brown', 'alice Cooper'] : ['alice Cooper', 'Charlie Brown']);
      }
      const createdAsc = (await call('GET', '/api/customers?sortBy=createdAt&sortOrder=asc')).json().items.map((c: { fullName: string }) => c.fullName);
      expect(createdAsc).toEqual(names);

      expect((await call('GET', '/api/customers?type=VIP')).json().items.map((c: { fullName: string }) => c.fullName)).toEqual(['Bob Marley']);
      expect((await call('GET', '/api/customers?status=Suspended')).json().items.map((c: { fullName: string }) => c.fullName)).toEqual(['dave Grohl']);
      expect((await call('GET', '/api/customers?status=Active&type=Regular')).json().pagination.totalItems).toBe(3);

      const analytics = (await call('GET', '/api/customers/analytics')).json().data;
      expect(analytics).toMatchObject({
        totalCustomers: 5,
        customersByStatus: { Active: 4, Inactive: 0, Suspended: 1 },
        customersByType: { Regular: 4, Premium: 0, VIP: 1 },
        orderStatistics: { totalOrders: 7, totalOrderValue: 520.5, averageOrderValue: 74.36 },
        complaintStatistics: { totalComplaints: 0, openComplaints: 0 },
        newCustomersThisMonth: 5,
      });
    });

    it('validates list and search queries', async () => {
      const cases: [string, string, string][] = [
        ['/api/customers?limit=0', 'query -> limit', 'must be greater than or equal to 1'],
        ['/api/customers?limit=101', 'query -> limit', 'must be less than or equal to 100'],
        ['/api/customers?page=0', 'query -> page', 'must be greater than or equal to 1'],
        ['/api/customers?page=abc', 'query -> page', 'value must be a number'],
        ['/api/customers?sortBy=email', 'query -> sortBy', 'must be one of: customerSince, createdAt, totalOrders, totalOrderValue, lastOrderDate, fullName'],
        ['/api/customers?sortOrder=up', 'query -> sortOrder', 'must be one of: asc, desc'],
        ['/api/customers?status=Deleted', 'query -> status', 'must be one of: Active, Inactive, Suspended'],
        ['/api/customers/search', 'query -> q', 'field required'],
        ['/api/customers/search?q=a', 'query -> q', 'must be at least 2 characters'],
      ];
      for (const [url, field, message] of cases) {
        const res = await call('GET', url);
        expect(res.statusCode, url).toBe(400);
        expect(res.json(), url).toEqual({ success: false, message: 'Validation failed', errors: [{ field, message }] });
      }
      expect((await call('GET', '/api/customers?limit=100&unknown=1')).statusCode).toBe(200);
    });

    it('searches name, e-mail and phone case-insensitively, with % and _ taken literally', async () => {
      await seed({ fullName: 'Percent Man 100%', email: 'percent@example.com', contactNumber: '+1 555 0100' });
      await seed({ fullName: 'Under_Score', email: 'under_score@example.com', contactNumber: '+1 555 0101' });
      await seed({ fullName: 'Plain Person', email: 'underXscore@example.com', contactNumber: '+44 20 7946 0958' });
      await seed({ fullName: 'Back\\Slash', email: 'back@example.com', contactNumber: '0123456789' });
      const search = async (q: string) => {
        const res = await call('GET', `/api/customers/search?q=${encodeURIComponent(q)}`);
        expect(res.statusCode, q).toBe(200);
        expect(res.json()).not.toHaveProperty('success');
        return res.json().items.map((c: { fullName: string }) => c.fullName).sort();
      };
      expect(await search('0%')).toEqual(['Percent Man 100%']);
      expect(await search('%%')).toEqual([]);
      expect(await search('n%')).toEqual([]);
      expect(await search('r_s')).toEqual(['Under_Score']);
      expect(await search('__')).toEqual([]);
      expect(await search('UNDER')).toEqual(['Plain Person', 'Under_Score']);
      expect(await search('7946')).toEqual(['Plain Person']);
      expect(await search('+1 555')).toEqual(['Percent Man 100%', 'Under_Score']);
      expect(await search('k\\s')).toEqual(['Back\\Slash']);
      expect(await search('nobody')).toEqual([]);
      const list = (await call('GET', `/api/customers?search=${encodeURIComponent('_score')}`)).json().items;
      expect(list.map((c: { fullName: string }) => c.fullName)).toEqual(['Under_Score']);
      const paged = (await call('GET', '/api/customers/search?q=example&limit=3&page=2')).json();
      expect(paged.pagination).toMatchObject({ currentPage: 2, totalItems: 4, totalPages: 2, itemsPerPage: 3 });
      expect(paged.items).toHaveLength(1);
    });

    it('hides soft-deleted customers from list and search unless status=Inactive', async () => {
      const kept = await seed({ fullName: 'Kept Customer' });
      const gone = await seed({ fullName: 'Gone Customer' });
      const deactivated = await seed({ fullName: 'Paused Customer' });
      await call('PATCH', `/api/customers/${deactivated.customerId}/status`, { status: 'Inactive' });
      const res = await call('DELETE', `/api/customers/${gone.customerId}`);
      expect(res.statusCode).toBe(200);
      const names = async (url: string) => (await call('GET', url)).json().items.map((c: { fullName: string }) => c.fullName).sort();
      expect(await names('/api/customers')).toEqual(['Kept Customer', 'Paused Customer']);
      expect(await names('/api/customers/search?q=customer')).toEqual(['Kept Customer', 'Paused Customer']);
      expect(await names('/api/customers?status=Inactive')).toEqual(['Gone Customer', 'Paused Customer']);
      expect(await names('/api/customers?status=Active')).toEqual(['Kept Customer']);
      // Still readable by id, and counted (as Inactive) by analytics.
      expect((await call('GET', `/api/customers/${gone.customerId}`)).json().data).toMatchObject({ customerStatus: 'Inactive', deletedAt: expect.stringMatching(ISO_MS) });
      expect((await call('GET', '/api/customers/analytics')).json().data).toMatchObject({ totalCustomers: 3, customersByStatus: { Active: 1, Inactive: 2, Suspended: 0 } });
      // Reactivating restores it to the lists.
      await call('PATCH', `/api/customers/${gone.customerId}/status`, { status: 'Active' });
      expect(await names('/api/customers')).toEqual(['Gone Customer', 'Kept Customer', 'Paused Customer']);
      expect(kept.customerId).toBeTruthy();
    });
  });

  describe('details and changes', () => {
    it('GET /:customerId returns details, 404 field customerId, 400 path -> customerId', async () => {
      const c = await seed();
      const res = await call('GET', `/api/customers/${c.customerId}`);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({
        success: true,
        message: 'Customer details retrieved successfully',
        data: { ...c, updatedBy: null, deletedAt: null, statusHistory: [] },
      });
      const upper = await call('GET', `/api/customers/${c.customerId.toUpperCase()}`);
      expect(upper.statusCode).toBe(200);
      const missing = await call('GET', '/api/customers/0123456789abcdef01234567');
      expect(missing.statusCode).toBe(404);
      expect(missing.json()).toEqual({ success: false, message: 'Customer not found', errors: [{ field: 'customerId', message: 'Customer not found' }] });
      for (const bad of ['123', 'zzzzzzzzzzzzzzzzzzzzzzzz', `${c.customerId}0`]) {
        const res400 = await call('GET', `/api/customers/${bad}`);
        expect(res400.statusCode).toBe(400);
        expect(res400.json()).toEqual({ success: false, message: 'Validation failed', errors: [{ field: 'path -> customerId', message: 'must be a 24-character hexadecimal id' }] });
      }
    });

    it('PUT applies every accepted field and records updatedBy', async () => {
      const c = await seed();
      const res = await call('PUT', `/api/customers/${c.customerId}`, {
        fullName: ' Johnny Doe ',
        contactNumber: '+1 234 567 8900',
        customerType: 'Premium',
        tags: ['vip-prospect', 'newsletter', 'newsletter'],
        preferences: { language: 'en', marketing: { email: true } },
        metadata: { source: 'web' },
        email: 'ignored@example.com',
      });
      expect(res.statusCode).toBe(200);
      const data = res.json().data;
      expect(res.json().message).toBe('Customer updated successfully');
      expect(data).toMatchObject({
        fullName: 'Johnny Doe',
        contactNumber: '+1 234 567 8900',
        customerType: 'Premium',
        tags: ['vip-prospect', 'newsletter'],
        preferences: { language: 'en', marketing: { email: true } },
        metadata: { source: 'web' },
        email: c.email,
        updatedBy: ADMIN_ID,
      });
      expect(new Date(data.updatedAt).getTime()).toBeGreaterThanOrEqual(new Date(c.updatedAt as string).getTime());
      const bad = async (payload: unknown, field: string) => {
        const r = await call('PUT', `/api/customers/${c.customerId}`, payload);
        expect(r.statusCode, JSON.stringify(payload)).toBe(400);
        expect(r.json().errors[0].field).toBe(field);
      };
      await bad({}, 'body');
      await bad({ fullName: 'J' }, 'body -> fullName');
      await bad({ customerType: 'Gold' }, 'body -> customerType');
      await bad({ tags: 'vip' }, 'body -> tags');
      await bad({ tags: [1] }, 'body -> tags -> 0');
      await bad({ preferences: [1, 2] }, 'body -> preferences');
      await bad({ metadata: 'x' }, 'body -> metadata');
      expect((await call('PUT', '/api/customers/0123456789abcdef01234567', { fullName: 'Nobody Here' })).statusCode).toBe(404);
    });

    it('PATCH status keeps an audit trail and calls the hook inside the transaction', async () => {
      const c = await seed();
      hooks.calls = [];
      const before = hooks.afterCommits;
      const res = await call('PATCH', `/api/customers/${c.customerId}/status`, { status: 'Suspended', reason: 'Chargeback under review' });
      expect(res.statusCode).toBe(200);
      expect(res.json().message).toBe('Customer status updated to Suspended');
      expect(res.json().data).toMatchObject({
        customerStatus: 'Suspended',
        updatedBy: ADMIN_ID,
        statusHistory: [{ previousStatus: 'Active', status: 'Suspended', reason: 'Chargeback under review', changedBy: ADMIN_ID, changedAt: expect.stringMatching(ISO_MS) }],
      });
      expect(hooks.calls).toEqual([
        { change: { customerId: c.customerId, userId: c.userId, status: 'Suspended' }, statusSeenInTx: 'Suspended', committed: true },
      ]);
      expect(hooks.afterCommits).toBe(before + 1);

      await call('PATCH', `/api/customers/${c.customerId}/status`, { status: 'Active' });
      const detail = (await call('GET', `/api/customers/${c.customerId}`)).json().data;
      expect(detail.statusHistory.map((e: { status: string; reason: string | null }) => [e.status, e.reason])).toEqual([
        ['Suspended', 'Chargeback under review'],
        ['Active', null],
      ]);

      expect((await call('PATCH', `/api/customers/${c.customerId}/status`, { status: 'Banned' })).json().errors).toEqual([
        { field: 'body -> status', message: 'must be one of: Active, Inactive, Suspended' },
      ]);
      expect((await call('PATCH', `/api/customers/${c.customerId}/status`, { status: 'Inactive', reason: 'x'.repeat(501) })).json().errors).toEqual([
        { field: 'body -> reason', message: 'must be at most 500 characters' },
      ]);
      expect((await call('PATCH', `/api/customers/${c.customerId}/status`, { status: 'Inactive', reason: 'x'.repeat(500) })).statusCode).toBe(200);
      expect((await call('PATCH', '/api/customers/0123456789abcdef01234567/status', { status: 'Active' })).statusCode).toBe(404);
    });

    it('rolls the status change back when the hook fails inside the transaction', async () => {
      const c = await seed();
      const commitsBefore = hooks.afterCommits;
      hooks.failNext = true;
      const res = await call('PATCH', `/api/customers/${c.customerId}/status`, { status: 'Suspended', reason: 'will fail' });
      expect(res.statusCode).toBe(500);
      expect(res.json()).toEqual({ success: false, message: 'Internal server error', errors: [{ field: 'server', message: 'An unexpected error occurred. Please try again later.' }] });
      expect(hooks.afterCommits).toBe(commitsBefore);
      const detail = (await call('GET', `/api/customers/${c.customerId}`)).json().data;
      expect(detail).toMatchObject({ customerStatus: 'Active', updatedBy: null, statusHistory: [] });
    });

    it('PATCH type accepts type or customerType', async () => {
      const c = await seed();
      const a = await call('PATCH', `/api/customers/${c.customerId}/type`, { type: 'Premium' });
      expect(a.statusCode).toBe(200);
      expect(a.json()).toMatchObject({ message: 'Customer type updated to Premium', data: { customerType: 'Premium', updatedBy: ADMIN_ID } });
      const b = await call('PATCH', `/api/customers/${c.customerId}/type`, { customerType: 'VIP' });
      expect(b.json()).toMatchObject({ message: 'Customer type updated to VIP', data: { customerType: 'VIP' } });
      const none = await call('PATCH', `/api/customers/${c.customerId}/type`, {});
      expect(none.statusCode).toBe(400);
      expect(none.json().errors).toEqual([{ field: 'body -> type', message: 'field required' }]);
      expect((await call('PATCH', `/api/customers/${c.customerId}/type`, { type: 'Gold' })).statusCode).toBe(400);
    });

    it('POST notes accepts notes or content (1–1000 characters) and answers 201', async () => {
      const c = await seed();
      const first = await call('POST', `/api/customers/${c.customerId}/notes`, { notes: 'Called about a late delivery' });
      expect(first.statusCode).toBe(201);
      expect(first.json()).toMatchObject({
        success: true,
        message: 'Note added successfully',
        data: { notes: [{ note: 'Called about a late delivery', addedBy: ADMIN_ID, addedAt: expect.stringMatching(ISO_MS) }], updatedBy: ADMIN_ID },
      });
      const second = await call('POST', `/api/customers/${c.customerId}/notes`, { content: 'x'.repeat(1000) });
      expect(second.statusCode).toBe(201);
      expect(second.json().data.notes).toHaveLength(2);
      expect(Object.keys(second.json().data.notes[1])).toEqual(['note', 'addedBy', 'addedAt']);
      for (const [payload, field] of [
        [{ notes: '' }, 'body -> notes'],
        [{ notes: '   ' }, 'body -> notes'],
        [{ content: 'x'.repeat(1001) }, 'body -> content'],
        [{}, 'body -> notes'],
        [{ notes: 5 }, 'body -> notes'],
      ] as const) {
        const res = await call('POST', `/api/customers/${c.customerId}/notes`, payload);
        expect(res.statusCode, JSON.stringify(payload)).toBe(400);
        expect(res.json().errors[0].field).toBe(field);
      }
      expect((await call('POST', '/api/customers/0123456789abcdef01234567/notes', { notes: 'hello' })).statusCode).toBe(404);
    });

    it('DELETE soft-deletes (Inactive, deletedAt), calls the hook, and is repeatable', async () => {
      const c = await seed();
      hooks.calls = [];
      const res = await call('DELETE', `/api/customers/${c.customerId}`);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ success: true, message: 'Customer deleted successfully', data: { customerId: c.customerId, deletedAt: expect.stringMatching(ISO_MS) } });
      expect(hooks.calls.map((call) => call.change)).toEqual([{ customerId: c.customerId, userId: c.userId, status: 'Inactive' }]);
      const again = await call('DELETE', `/api/customers/${c.customerId}`);
      expect(again.json().data.deletedAt).toBe(res.json().data.deletedAt);
      const detail = (await call('GET', `/api/customers/${c.customerId}`)).json().data;
      expect(detail).toMatchObject({ customerStatus: 'Inactive', updatedBy: ADMIN_ID, deletedAt: res.json().data.deletedAt });
      expect(detail.statusHistory[0]).toMatchObject({ previousStatus: 'Active', status: 'Inactive', reason: 'Customer deleted', changedBy: ADMIN_ID });
      // The internal create still answers idempotently for that user.
      const recreate = await createCustomer(h.app, { userId: c.userId, email: 'a@example.com', fullName: 'Back Again', contactNumber: '+1234567890' });
      expect(recreate.json()).toMatchObject({ message: 'Customer already exists', data: { customerStatus: 'Inactive' } });
      expect((await call('DELETE', '/api/customers/0123456789abcdef01234567')).statusCode).toBe(404);
    });

    it('profile sync from ATHS does not call the hook', async () => {
      const c = await seed();
      hooks.calls = [];
      const res = await h.app.inject({ method: 'PATCH', url: `/api/customers/internal/user/${c.userId}`, headers: { 'x-api-key': API_KEY }, payload: { customerStatus: 'Inactive' } });
      expect(res.statusCode).toBe(200);
      expect(hooks.calls).toEqual([]);
      const detail = (await call('GET', `/api/customers/${c.customerId}`)).json().data;
      expect(detail.statusHistory).toEqual([expect.objectContaining({ previousStatus: 'Active', status: 'Inactive', changedBy: 'ATHS' })]);
      expect(detail.deletedAt).toBeNull();
    });
  });

  describe('operations', () => {
    it('serves health, readiness, metrics and an OpenAPI document covering every route', async () => {
      expect((await h.app.inject({ method: 'GET', url: '/health' })).json()).toMatchObject({ success: true, service: 'crms' });
      expect((await h.app.inject({ method: 'GET', url: '/health/ready' })).json()).toEqual({ success: true, message: 'Ready', data: { database: 'ok' } });
      const metrics = await h.app.inject({ method: 'GET', url: '/metrics' });
      expect(metrics.body).toContain('crms_customer_creates_total');
      expect(metrics.body).toContain('http_request_duration_seconds');
      const doc = (await h.app.inject({ method: 'GET', url: '/docs/json' })).json();
      const expected: Record<string, string[]> = {
        '/api/customers/internal/create': ['post'],
        '/api/customers/internal/user/{userId}': ['get', 'patch'],
        '/api/customers/internal/{customerId}/statistics': ['patch'],
        '/api/customers/me': ['get'],
        '/api/customers/me/statistics': ['get'],
        '/api/customers': ['get'],
        '/api/customers/search': ['get'],
        '/api/customers/analytics': ['get'],
        '/api/customers/{customerId}': ['get', 'put', 'delete'],
        '/api/customers/{customerId}/status': ['patch'],
        '/api/customers/{customerId}/type': ['patch'],
        '/api/customers/{customerId}/notes': ['post'],
      };
      for (const [path, methods] of Object.entries(expected)) {
        for (const method of methods) {
          const op = doc.paths[path]?.[method];
          expect(op, `${method} ${path}`).toBeDefined();
          expect(op.summary).toBeTruthy();
          expect(op.tags.length).toBeGreaterThan(0);
          expect(op.security.length).toBeGreaterThan(0);
          expect(op.responses['200'] ?? op.responses['201']).toBeDefined();
        }
      }
      // The lists are documented as the bare {items, pagination} they send.
      for (const path of ['/api/customers', '/api/customers/search']) {
        const schema = doc.paths[path].get.responses['200'].content['application/json'].schema;
        expect(Object.keys(schema.properties).sort(), path).toEqual(['items', 'pagination']);
      }
      const unknown = await h.app.inject({ method: 'GET', url: '/api/nowhere' });
      expect(unknown.statusCode).toBe(404);
      expect(unknown.json().success).toBe(false);
    });
  });
});

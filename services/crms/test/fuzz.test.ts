import fc from 'fast-check';
import { testDatabaseDrivers } from '@shop/service-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY, createCustomer, customerInput, startHarness, type Harness } from './support/harness.ts';

/** Whatever a client sends, the answer is in the envelope and never a 500. */
describe.each(testDatabaseDrivers())('CRMS never answers 500 to odd input on %s', (driver) => {
  let h: Harness;
  let admin: string;
  let customerId: string;
  beforeAll(async () => {
    h = await startHarness(driver);
    admin = await h.adminToken();
    customerId = (await createCustomer(h.app, customerInput())).json().data.customerId;
  });
  afterAll(async () => h?.close());

  const field = fc.oneof(
    fc.string({ maxLength: 120 }),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.string(), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
    fc.emailAddress(),
    fc.string({ unit: 'grapheme', maxLength: 30 }),
    fc.string({ unit: 'binary', maxLength: 30 }),
    fc.constantFrom('\ud800', 'a\udc00b', 'x\u0000y', '\ud83d\ude00 smile'),
  );

  const expectEnvelope = (status: number, body: { success: boolean; errors?: unknown[] }) => {
    expect(status).toBeLessThan(500);
    if (status >= 400) {
      expect(body.success).toBe(false);
      expect(Array.isArray(body.errors)).toBe(true);
    } else {
      expect(body.success).toBe(true);
    }
  };

  it('internal create', async () => {
    await fc.assert(
      fc.asyncProperty(fc.record({ userId: field, email: field, fullName: field, contactNumber: field }, { requiredKeys: [] }), async (body) => {
        const res = await createCustomer(h.app, body);
        expectEnvelope(res.statusCode, res.json());
      }),
      { numRuns: 150 },
    );
  });

  it('statistics', async () => {
    const counter = fc.oneof(fc.integer({ min: -5, max: 5 }), fc.double({ noNaN: true }), field);
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          {
            totalOrders: counter,
            totalOrderValue: counter,
            openComplaints: counter,
            lastOrderDate: fc.oneof(field, fc.date({ noInvalidDate: true }).map((d) => d.toISOString())),
            increment: fc.oneof(field, fc.record({ totalOrders: counter, totalOrderValue: counter, openComplaints: counter }, { requiredKeys: [] })),
          },
          { requiredKeys: [] },
        ),
        async (body) => {
          const res = await h.app.inject({
            method: 'PATCH',
            url: `/api/customers/internal/${customerId}/statistics`,
            headers: { 'x-api-key': API_KEY },
            payload: body,
          });
          expectEnvelope(res.statusCode, res.json());
        },
      ),
      { numRuns: 150 },
    );
  });

  it('administrator update, status, type, notes and list queries', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({ fullName: field, contactNumber: field, customerType: field, tags: field, preferences: field, metadata: field, status: field, reason: field, type: field, notes: field }, { requiredKeys: [] }),
        fc.dictionary(fc.constantFrom('page', 'limit', 'status', 'type', 'sortBy', 'sortOrder', 'search', 'q'), fc.string({ maxLength: 12 })),
        async (body, query) => {
          const headers = { authorization: `Bearer ${admin}` };
          for (const [method, url] of [
            ['PUT', `/api/customers/${customerId}`],
            ['PATCH', `/api/customers/${customerId}/status`],
            ['PATCH', `/api/customers/${customerId}/type`],
            ['POST', `/api/customers/${customerId}/notes`],
          ] as const) {
            const res = await h.app.inject({ method, url, headers, payload: body });
            expectEnvelope(res.statusCode, res.json());
          }
          const qs = new URLSearchParams(query).toString();
          for (const path of ['/api/customers', '/api/customers/search']) {
            const res = await h.app.inject({ method: 'GET', url: `${path}?${qs}`, headers });
            // A list answers the bare {items, pagination} (API.md); its errors keep the envelope.
            if (res.statusCode === 200) expect(Object.keys(res.json()).sort()).toEqual(['items', 'pagination']);
            else expectEnvelope(res.statusCode, res.json());
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('NUL characters and unpaired surrogates are a 400 wherever they go (jsonb cannot hold them)', async () => {
    const headers = { authorization: `Bearer ${admin}` };
    const cases: [string, 'PUT' | 'POST' | 'PATCH', string, Record<string, unknown>][] = [
      ['body -> tags -> 0', 'PUT', `/api/customers/${customerId}`, { tags: ['\ud800'] }],
      ['body -> metadata -> a -> 0', 'PUT', `/api/customers/${customerId}`, { metadata: { a: ['\udc00'] } }],
      ['body -> preferences', 'PUT', `/api/customers/${customerId}`, { preferences: { ['k\ud800']: 1 } }],
      ['body -> fullName', 'PUT', `/api/customers/${customerId}`, { fullName: 'Jo\ud800hn' }],
      ['body -> notes', 'POST', `/api/customers/${customerId}/notes`, { notes: 'a\udbffb' }],
      ['body -> reason', 'PATCH', `/api/customers/${customerId}/status`, { status: 'Active', reason: '\udfff' }],
    ];
    for (const [field, method, url, payload] of cases) {
      const res = await h.app.inject({ method, url, headers, payload });
      expect(res.statusCode, field).toBe(400);
      expect(res.json().errors, field).toEqual([{ field, message: expect.stringContaining('unpaired surrogate') }]);
    }
    const nul = await createCustomer(h.app, customerInput({ fullName: 'Jo\u0000hn' }));
    expect(nul.statusCode).toBe(400);
    const paired = await h.app.inject({ method: 'PUT', url: `/api/customers/${customerId}`, headers, payload: { tags: ['\ud83d\ude00'], metadata: { emoji: '\ud83d\ude00' } } });
    expect(paired.statusCode).toBe(200);
    expect(paired.json().data.tags).toEqual(['\ud83d\ude00']);
  });

  it('paths', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1, maxLength: 40 }), async (segment) => {
        const encoded = encodeURIComponent(segment);
        for (const [method, url, headers] of [
          ['GET', `/api/customers/internal/user/${encoded}`, { 'x-api-key': API_KEY }],
          ['GET', `/api/customers/${encoded}`, { authorization: `Bearer ${admin}` }],
        ] as const) {
          const res = await h.app.inject({ method, url, headers });
          // `/api/customers/.` is the list route, whose 200 is the bare {items, pagination} (API.md).
          if (res.statusCode === 200 && 'items' in res.json()) expect(Object.keys(res.json()).sort()).toEqual(['items', 'pagination']);
          else expectEnvelope(res.statusCode, res.json());
        }
      }),
      { numRuns: 100 },
    );
  });
});

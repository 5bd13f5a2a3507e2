import { PERSON_NAME_MESSAGE } from '@shop/service-kit';
import { testDatabaseDrivers } from '@shop/service-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY, createCustomer, customerInput, startHarness, type Harness } from './support/harness.ts';

const DATE_RANGE = 'must be between 0100-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z';

/** Issue 12, items 2 and 5 on CRMS: dates PostgreSQL cannot store, and the shared name rule. */
describe.each(testDatabaseDrivers())('CRMS input rules on %s', (driver) => {
  let h: Harness;
  let admin: string;
  beforeAll(async () => {
    h = await startHarness(driver);
    admin = await h.adminToken();
  });
  afterAll(async () => h?.close());

  const newCustomer = async (overrides: Record<string, unknown> = {}) => {
    const res = await createCustomer(h.app, customerInput(overrides));
    expect(res.statusCode).toBe(200);
    return res.json().data.customerId as string;
  };
  const statistics = (customerId: string, payload: Record<string, unknown>) =>
    h.app.inject({ method: 'PATCH', url: `/api/customers/internal/${customerId}/statistics`, headers: { 'x-api-key': API_KEY }, payload });
  const record = async (customerId: string) =>
    (await h.app.inject({ method: 'GET', url: `/api/customers/${customerId}`, headers: { authorization: `Bearer ${admin}` } })).json().data;

  it('a date CRMS cannot store and read back (year 0, years 1-99, past 9999, or pushed over an edge by its offset) is a 400 naming the field, and nothing changes', async () => {
    const id = await newCustomer();
    expect((await statistics(id, { lastOrderDate: '2026-01-26T10:30:00Z', lastComplaintDate: '2026-01-20T08:00:00Z' })).statusCode).toBe(200);
    const before = await record(id);
    const cases: Array<[string, string]> = [
      ['lastOrderDate', '0000-01-01T00:00:00Z'],
      ['lastComplaintDate', '0000-12-31T23:59:59.999Z'],
      // PostgreSQL would store these, but they would be read back as 2001 and 2099.
      ['lastOrderDate', '0001-01-01T00:00:00Z'],
      ['lastComplaintDate', '0099-12-31T23:59:59.999Z'],
      ['lastOrderDate', '0100-01-01T00:00:00+00:01'],
      ['lastComplaintDate', '0100-01-01T09:59:59+14:00'],
      ['lastOrderDate', '9999-12-31T23:59:59-00:01'],
      ['lastComplaintDate', '9999-12-31T20:00:00-12:00'],
    ];
    for (const [field, value] of cases) {
      const res = await statistics(id, { totalOrders: 7, [field]: value });
      expect(res.statusCode, value).toBe(400);
      expect(res.json(), value).toEqual({ success: false, message: 'Validation failed', errors: [{ field: `body -> ${field}`, message: DATE_RANGE }] });
    }
    // Impossible calendar dates were already refused; they stay so.
    const february30 = await statistics(id, { lastOrderDate: '2026-02-30T00:00:00Z' });
    expect(february30.json().errors).toEqual([{ field: 'body -> lastOrderDate', message: 'value is not a valid ISO-8601 date-time' }]);
    expect(await record(id)).toEqual(before);
  });

  it('the first and last storable instants are stored and read back exactly', async () => {
    const id = await newCustomer();
    const edges = await statistics(id, { lastOrderDate: '0100-01-01T00:00:00Z', lastComplaintDate: '9999-12-31T23:59:59.999Z' });
    expect(edges.statusCode).toBe(200);
    expect(edges.json().data).toMatchObject({ lastOrderDate: '0100-01-01T00:00:00.000Z', lastComplaintDate: '9999-12-31T23:59:59.999Z' });
    const withOffsets = await statistics(id, { lastOrderDate: '0100-01-01T14:00:00.123+14:00', lastComplaintDate: '9999-12-31T11:59:59-12:00' });
    expect(withOffsets.json().data).toMatchObject({ lastOrderDate: '0100-01-01T00:00:00.123Z', lastComplaintDate: '9999-12-31T23:59:59.000Z' });
    expect(await record(id)).toMatchObject({ lastOrderDate: '0100-01-01T00:00:00.123Z', lastComplaintDate: '9999-12-31T23:59:59.000Z' });
  });

  it('an administrator cannot give a customer a name with control or invisible formatting characters; international names pass', async () => {
    const id = await newCustomer({ fullName: 'John Doe' });
    const update = (fullName: string) =>
      h.app.inject({ method: 'PUT', url: `/api/customers/${id}`, headers: { authorization: `Bearer ${admin}` }, payload: { fullName } });
    for (const fullName of ['John\nDoe', 'John\r\nDoe', 'John\tDoe', 'John \u202eeoD', 'John\u200bDoe', 'John\u2028Doe']) {
      const res = await update(fullName);
      expect(res.statusCode, JSON.stringify(fullName)).toBe(400);
      expect(res.json().errors).toEqual([{ field: 'body -> fullName', message: PERSON_NAME_MESSAGE }]);
    }
    expect((await record(id)).fullName).toBe('John Doe');
    for (const fullName of ["Zoë O'Brien-Łukasiewicz", '李小龙', 'محمد بن سلمان', 'می\u200cخواهم نیا']) {
      const res = await update(fullName);
      expect(res.statusCode, fullName).toBe(200);
      expect(res.json().data.fullName).toBe(fullName);
    }
  });

  it("ATHS's copy of a name is mirrored as it is: a name stored before the rule still provisions (no dead letter)", async () => {
    const legacy = 'Legacy\tName';
    const created = await createCustomer(h.app, customerInput({ fullName: legacy }));
    expect(created.statusCode).toBe(200);
    expect(created.json().data.fullName).toBe(legacy);
    const synced = await h.app.inject({
      method: 'PATCH',
      url: `/api/customers/internal/user/${created.json().data.userId}`,
      headers: { 'x-api-key': API_KEY },
      payload: { fullName: 'Legacy\nName' },
    });
    expect(synced.statusCode).toBe(200);
    expect(synced.json().data.fullName).toBe('Legacy\nName');
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseDrivers } from '@shop/service-kit/testing';
import { adminSession, bearer, login, PASSWORD, register, registration, startAths, uniqueEmail, type TestAths } from './helpers.ts';

describe.each(testDatabaseDrivers())('ATHS administration on %s', (driver) => {
  let aths: TestAths;
  let admin: Awaited<ReturnType<typeof adminSession>>;
  const bootstrapEmail = 'Root@Example.com';

  beforeAll(async () => {
    aths = await startAths(driver, { ADMIN_EMAIL: bootstrapEmail, ADMIN_PASSWORD: 'RootPass123' });
    admin = await adminSession(aths.app);
  });
  afterAll(async () => aths?.close());

  const as = (token: string) => ({
    get: (url: string) => aths.app.inject({ method: 'GET', url, headers: bearer(token) }),
    put: (url: string, payload?: object) => aths.app.inject({ method: 'PUT', url, headers: bearer(token), payload }),
    post: (url: string, payload: object) => aths.app.inject({ method: 'POST', url, headers: bearer(token), payload }),
    del: (url: string) => aths.app.inject({ method: 'DELETE', url, headers: bearer(token) }),
  });

  it('bootstraps the first administrator from ADMIN_EMAIL once and never overwrites it', async () => {
    const res = await login(aths.app, bootstrapEmail, 'RootPass123');
    expect(res.statusCode).toBe(200);
    expect(res.json().data.user).toMatchObject({ role: 'Administrator', email: 'root@example.com', emailVerified: true });
    expect(await aths.app.aths.registration.ensureAdministrator(bootstrapEmail, 'OtherPass123')).toBe('exists');
    expect((await login(aths.app, bootstrapEmail, 'RootPass123')).statusCode).toBe(200);
  });

  it('creates users of any role, 409 on a taken e-mail, validation', async () => {
    const api = as(admin.accessToken);
    const created = await api.post('/api/admin/users', { ...registration(), role: 'Administrator' });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ success: true, message: 'User created successfully', data: { user: { role: 'Administrator' } } });
    const email = created.json().data.user.email;
    expect((await login(aths.app, email)).statusCode).toBe(200);
    expect((await api.post('/api/admin/users', { ...registration({ email }), role: 'Customer' })).statusCode).toBe(409);
    const bad = await api.post('/api/admin/users', { ...registration(), role: 'Root' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0].field).toBe('body -> role');
  });

  it('customers and anonymous callers cannot use admin routes', async () => {
    const customer = await register(aths.app);
    for (const [method, url] of [
      ['GET', '/api/admin/users'],
      ['GET', '/api/admin/stats'],
      ['POST', '/api/admin/users'],
      ['PUT', `/api/admin/users/${customer.user._id}/role`],
      ['DELETE', `/api/admin/users/${admin.user.id}`],
    ] as const) {
      const res = await aths.app.inject({ method, url, headers: bearer(customer.accessToken), payload: { role: 'Administrator' } });
      expect(res.statusCode, url).toBe(403);
      expect(res.json().errors[0].field).toBe('role');
      expect((await aths.app.inject({ method, url })).statusCode).toBe(401);
    }
  });

  it('lists users with pagination, filters and a literal search', async () => {
    const api = as(admin.accessToken);
    const tag = `zq${Date.now().toString(36)}`;
    await register(aths.app, { fullName: `Percent 100% ${tag}` });
    await register(aths.app, { fullName: `Under_score ${tag}` });
    await register(aths.app, { fullName: `Plain ${tag}` });
    const all = await api.get(`/api/admin/users?search=${tag}&limit=2`);
    expect(all.statusCode).toBe(200);
    // The shape the earlier ATHS sent and the mobile app reads: data.users with {page, limit, total, pages}.
    expect(Object.keys(all.json().data).sort()).toEqual(['pagination', 'users']);
    expect(all.json().data.pagination).toEqual({ page: 1, limit: 2, total: 3, pages: 2 });
    expect(all.json().data.users).toHaveLength(2);
    const doc = (await aths.app.inject({ method: 'GET', url: '/docs/json' })).json();
    const documented = doc.paths['/api/admin/users'].get.responses['200'].content['application/json'].schema.properties.data;
    expect(Object.keys(documented.properties).sort()).toEqual(['pagination', 'users']);
    expect(Object.keys(documented.properties.pagination.properties).sort()).toEqual(['limit', 'page', 'pages', 'total']);
    const percent = await api.get(`/api/admin/users?search=${encodeURIComponent('100%')}`);
    expect(percent.json().data.users.map((u: { fullName: string }) => u.fullName)).toEqual([`Percent 100% ${tag}`]);
    const underscore = await api.get(`/api/admin/users?search=${encodeURIComponent(`r_s`)}`);
    expect(underscore.json().data.users.map((u: { fullName: string }) => u.fullName)).toEqual([`Under_score ${tag}`]);
    const admins = await api.get('/api/admin/users?role=Administrator&isActive=true&limit=100');
    expect(admins.json().data.users.every((u: { role: string }) => u.role === 'Administrator')).toBe(true);
    const none = await api.get(`/api/admin/users?search=${tag}nothing`);
    expect(none.json().data).toEqual({ users: [], pagination: { page: 1, limit: 20, total: 0, pages: 0 } });
    for (const query of ['limit=0', 'limit=101', 'page=0', 'role=Root', 'isActive=maybe']) {
      const res = await api.get(`/api/admin/users?${query}`);
      expect(res.statusCode, query).toBe(400);
      expect(res.json().errors[0].field).toMatch(/^query -> /);
    }
  });

  it('reports statistics', async () => {
    const stats = await as(admin.accessToken).get('/api/admin/stats');
    expect(stats.statusCode).toBe(200);
    const data = stats.json().data;
    expect(Object.keys(data).sort()).toEqual(['activeUsers', 'adminCount', 'customerCount', 'inactiveUsers', 'totalUsers', 'unverifiedUsers', 'verifiedUsers']);
    expect(data.totalUsers).toBe(data.activeUsers + data.inactiveUsers);
    expect(data.totalUsers).toBe(data.customerCount + data.adminCount);
    expect(data.adminCount).toBeGreaterThanOrEqual(2);
  });

  it('deactivates (revoking tokens) and reactivates users', async () => {
    const api = as(admin.accessToken);
    const customer = await register(aths.app);
    const off = await api.put(`/api/admin/users/${customer.user._id}/deactivate`);
    expect(off.statusCode).toBe(200);
    expect(off.json().data.user.isActive).toBe(false);
    expect((await aths.app.inject({ method: 'POST', url: '/api/auth/refresh-token', payload: { refreshToken: customer.refreshToken } })).statusCode).toBe(401);
    expect((await aths.app.inject({ method: 'GET', url: '/api/user/profile', headers: bearer(customer.accessToken) })).statusCode).toBe(403);
    const on = await api.put(`/api/admin/users/${customer.user._id}/activate`);
    expect(on.json().data.user.isActive).toBe(true);
    expect((await login(aths.app, customer.email)).statusCode).toBe(200);
    expect((await api.put(`/api/admin/users/${'0'.repeat(24)}/activate`)).statusCode).toBe(404);
    expect((await api.put('/api/admin/users/not-an-id/activate')).statusCode).toBe(400);
    expect((await api.put(`/api/admin/users/${admin.user.id}/deactivate`)).statusCode).toBe(400);
  });

  it('changes roles; never your own; a demoted admin loses access at once', async () => {
    const api = as(admin.accessToken);
    const customer = await register(aths.app);
    const promoted = await api.put(`/api/admin/users/${customer.user._id}/role`, { role: 'Administrator' });
    expect(promoted.statusCode).toBe(200);
    expect(promoted.json().data.user.role).toBe('Administrator');
    const own = await api.put(`/api/admin/users/${admin.user.id}/role`, { role: 'Customer' });
    expect(own.statusCode).toBe(403);
    expect(own.json().errors[0].field).toBe('userId');
    expect((await api.put(`/api/admin/users/${customer.user._id}/role`, { role: 'Boss' })).statusCode).toBe(400);

    const newAdmin = (await login(aths.app, customer.email)).json().data.accessToken;
    expect((await as(newAdmin).get('/api/admin/stats')).statusCode).toBe(200);
    await api.put(`/api/admin/users/${customer.user._id}/role`, { role: 'Customer' });
    const stale = await as(newAdmin).get('/api/admin/stats');
    expect(stale.statusCode).toBe(403);
    expect(stale.json().errors[0].field).toBe('role');
  });

  it('deletes users; refuses self-delete and the last Administrator', async () => {
    const api = as(admin.accessToken);
    const customer = await register(aths.app);
    const deleted = await api.del(`/api/admin/users/${customer.user._id}`);
    expect(deleted.statusCode).toBe(200);
    expect(deleted.json().data).toMatchObject({ userId: customer.user._id, deletedAt: expect.any(String) });
    expect((await api.del(`/api/admin/users/${customer.user._id}`)).statusCode).toBe(404);
    expect((await login(aths.app, customer.email)).statusCode).toBe(401);
    expect((await register(aths.app, { email: customer.email })).user.email).toBe(customer.email);

    const self = await api.del(`/api/admin/users/${admin.user.id}`);
    expect(self.statusCode).toBe(403);
    expect(self.json().errors[0].field).toBe('userId');

    // Delete every other Administrator; the last one cannot be removed (by a stale token of a former admin either).
    const others = await api.get('/api/admin/users?role=Administrator&limit=100');
    for (const user of others.json().data.users as { _id: string }[]) {
      if (user._id !== admin.user.id) expect((await api.del(`/api/admin/users/${user._id}`)).statusCode).toBe(200);
    }
    const stats = (await api.get('/api/admin/stats')).json().data;
    expect(stats.adminCount).toBe(1);
    await expect(aths.app.aths.administration.deleteUser('0'.repeat(24), admin.user.id)).rejects.toMatchObject({ statusCode: 409 });
    // A deactivated Administrator does not count: the last active one still cannot be deleted.
    const dormant = await aths.app.aths.registration.createUser(
      { email: uniqueEmail('dormant'), password: PASSWORD, fullName: 'Dormant Admin', contactNumber: '0123456789', role: 'Administrator', emailVerified: true },
      { sendVerification: false },
    );
    await aths.app.aths.administration.setActive(dormant.id, false, 'admin', admin.user.id);
    await expect(aths.app.aths.administration.deleteUser('0'.repeat(24), admin.user.id)).rejects.toMatchObject({ statusCode: 409 });
    expect((await api.del(`/api/admin/users/${dormant.id}`)).statusCode).toBe(200);
    await expect(aths.app.aths.administration.changeRole('0'.repeat(24), admin.user.id, 'Customer')).rejects.toMatchObject({ statusCode: 409 });
    const selfDelete = await aths.app.inject({
      method: 'DELETE',
      url: '/api/user/account',
      headers: bearer(admin.accessToken),
      payload: { password: PASSWORD, confirmation: 'DELETE' },
    });
    expect(selfDelete.statusCode).toBe(409);
    expect(uniqueEmail()).toContain('@');
  });
});

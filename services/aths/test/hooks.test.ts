import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { rowsOf, type Executor } from '@shop/service-kit';
import { testDatabaseDrivers } from '@shop/service-kit/testing';
import type { UserLifecycleHooks, UserRecord } from '../src/users/lifecycle-hooks.ts';
import { adminSession, API_KEY, bearer, login, PASSWORD, register, registration, startAths, type TestAths } from './helpers.ts';

interface Call {
  hook: string;
  userId: string;
  changed?: string[];
  origin?: string;
  isActive?: boolean;
  /** What the transaction saw of the user row when the hook ran. */
  rowVisible: boolean;
  hasHash: boolean;
}

describe.each(testDatabaseDrivers())('ATHS user lifecycle hooks on %s', (driver) => {
  let aths: TestAths;
  const calls: Call[] = [];
  let commits = 0;
  let failFor: string | null = null;

  const visible = async (tx: Executor, id: string) =>
    (await rowsOf<{ id: string }>(tx, sql`SELECT id FROM users WHERE id = ${id}`)).length === 1;

  const record = async (hook: string, tx: Executor, user: UserRecord, extra: Partial<Call> = {}) => {
    calls.push({ hook, userId: user.id, isActive: user.isActive, rowVisible: await visible(tx, user.id), hasHash: 'passwordHash' in user, ...extra });
    if (failFor && user.email === failFor) throw new Error('hook failed');
  };

  const hooks: UserLifecycleHooks = {
    onUserCreated: (tx, user) => record('created', tx, user),
    onUserUpdated: (tx, user, changed) => record('updated', tx, user, { changed }),
    onUserActiveChanged: (tx, user, origin) => record('active', tx, user, { origin }),
    onUserDeleted: (tx, user) => record('deleted', tx, user),
    afterCommit: () => {
      commits += 1;
    },
  };

  beforeAll(async () => {
    // The factory form: receives the database, config, logger and metrics.
    aths = await startAths(driver, {}, { userLifecycleHooks: async ({ database }) => (database ? hooks : hooks) });
  });
  afterAll(async () => aths?.close());

  const callsFor = (userId: string) => calls.filter((c) => c.userId === userId);

  it('registration calls onUserCreated inside the transaction, then afterCommit', async () => {
    const before = commits;
    const { user } = await register(aths.app);
    expect(callsFor(user._id)).toEqual([{ hook: 'created', userId: user._id, isActive: true, rowVisible: true, hasHash: false }]);
    expect(commits).toBe(before + 1);
  });

  it('a failing hook rolls the registration back (no user, no tokens) and answers 500 without internals', async () => {
    const body = registration();
    failFor = body.email;
    const before = commits;
    try {
      const res = await aths.app.inject({ method: 'POST', url: '/api/auth/register', payload: body });
      expect(res.statusCode).toBe(500);
      expect(res.body).not.toContain('hook failed');
    } finally {
      failFor = null;
    }
    expect(commits).toBe(before);
    expect((await login(aths.app, body.email)).statusCode).toBe(401);
    expect((await aths.app.inject({ method: 'POST', url: '/api/auth/register', payload: body })).statusCode).toBe(201);
  });

  it('profile edits, role changes, activation changes and deletion call their hooks', async () => {
    const admin = await adminSession(aths.app);
    const { user, accessToken } = await register(aths.app);
    const headers = bearer(admin.accessToken);
    await aths.app.inject({ method: 'PUT', url: '/api/user/profile', headers: bearer(accessToken), payload: { fullName: 'New Name', contactNumber: '0987654321' } });
    // No change, no hook.
    await aths.app.inject({ method: 'PUT', url: '/api/user/profile', headers: bearer(accessToken), payload: { fullName: 'New Name' } });
    await aths.app.inject({ method: 'PUT', url: `/api/admin/users/${user._id}/role`, headers, payload: { role: 'Administrator' } });
    await aths.app.inject({ method: 'PUT', url: `/api/admin/users/${user._id}/role`, headers, payload: { role: 'Customer' } });
    await aths.app.inject({ method: 'PUT', url: `/api/admin/users/${user._id}/deactivate`, headers });
    await aths.app.inject({ method: 'PUT', url: `/api/admin/users/${user._id}/deactivate`, headers });
    await aths.app.inject({
      method: 'PATCH',
      url: `/api/internal/user/${user._id}/status`,
      headers: { 'x-api-key': API_KEY },
      payload: { isActive: true },
    });
    const selfDelete = await aths.app.inject({
      method: 'DELETE',
      url: '/api/user/account',
      headers: bearer((await login(aths.app, user.email)).json().data.accessToken),
      payload: { password: PASSWORD, confirmation: 'DELETE' },
    });
    expect(selfDelete.statusCode).toBe(200);
    await aths.app.inject({ method: 'DELETE', url: `/api/admin/users/${user._id}`, headers });
    const summary = callsFor(user._id).map((c) => [c.hook, c.changed ?? c.origin ?? null, c.isActive, c.rowVisible]);
    expect(summary).toEqual([
      ['created', null, true, true],
      ['updated', ['fullName', 'contactNumber'], true, true],
      ['updated', ['role'], true, true],
      ['updated', ['role'], true, true],
      ['active', 'admin', false, true],
      ['active', 'internal', true, true],
      ['active', 'self-delete', false, true],
      ['deleted', null, false, true],
    ]);
  });
});

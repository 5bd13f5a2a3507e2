import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq, sql } from 'drizzle-orm';
import { ConfigError, openDatabase, rowsOf, type DatabaseDriver } from '@shop/service-kit';
import { createTestDatabase, testDatabaseDrivers } from '@shop/service-kit/testing';
import { MIGRATIONS_FOLDER, MIGRATIONS_TABLE, type AthsApp } from '../src/app.ts';
import { loadAthsConfig } from '../src/config.ts';
import { refreshTokens } from '../src/sessions/schema.ts';
import { hashToken } from '../src/opaque-tokens.ts';
import { adminSession, bearer, buildTestApp, login, PASSWORD, register, startAths, type TestAths } from './helpers.ts';

const DAY = 86_400_000;
const sleepUntil = (time: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, time - Date.now())));
const refresh = (app: AthsApp, refreshToken: string) => app.inject({ method: 'POST', url: '/api/auth/refresh-token', payload: { refreshToken } });

describe('refresh-token settings', () => {
  it('defaults to rotation on, a 7-day idle and a 30-day absolute lifetime; parses both settings', () => {
    expect(loadAthsConfig({})).toMatchObject({ REFRESH_TOKEN_ROTATION: 'on', REFRESH_TOKEN_TTL: 7 * 86_400, REFRESH_TOKEN_ABSOLUTE_TTL: 30 * 86_400 });
    const config = loadAthsConfig({ REFRESH_TOKEN_ROTATION: 'off', REFRESH_TOKEN_TTL: '12h', REFRESH_TOKEN_ABSOLUTE_TTL: '12h' });
    expect(config).toMatchObject({ REFRESH_TOKEN_ROTATION: 'off', REFRESH_TOKEN_TTL: 43_200, REFRESH_TOKEN_ABSOLUTE_TTL: 43_200 });
  });

  it('refuses an absolute lifetime shorter than the idle one, and invalid values, at start', () => {
    const refused = (env: Record<string, string>, pattern: RegExp) => {
      expect(() => loadAthsConfig(env)).toThrow(ConfigError);
      expect(() => loadAthsConfig(env)).toThrow(pattern);
    };
    refused({ REFRESH_TOKEN_ABSOLUTE_TTL: '6d' }, /REFRESH_TOKEN_ABSOLUTE_TTL must be at least REFRESH_TOKEN_TTL/);
    refused({ REFRESH_TOKEN_TTL: '2h', REFRESH_TOKEN_ABSOLUTE_TTL: '3600' }, /REFRESH_TOKEN_ABSOLUTE_TTL/);
    refused({ REFRESH_TOKEN_ABSOLUTE_TTL: 'forever' }, /REFRESH_TOKEN_ABSOLUTE_TTL/);
    refused({ REFRESH_TOKEN_ABSOLUTE_TTL: '0' }, /REFRESH_TOKEN_ABSOLUTE_TTL/);
    refused({ REFRESH_TOKEN_ROTATION: 'sometimes' }, /REFRESH_TOKEN_ROTATION/);
    refused({ REFRESH_TOKEN_ROTATION: '' }, /REFRESH_TOKEN_ROTATION/);
  });
});

describe.each(testDatabaseDrivers())('refresh-token rotation modes on %s', (driver) => {
  // One database; an instance per setting on it (as during a rolling configuration change).
  let aths: TestAths;
  let off: AthsApp;
  const short: Partial<Record<'on' | 'off', AthsApp>> = {};

  beforeAll(async () => {
    aths = await startAths(driver);
    off = await buildTestApp(aths.database, { REFRESH_TOKEN_ROTATION: 'off' });
    for (const mode of ['on', 'off'] as const) {
      short[mode] = await buildTestApp(aths.database, { REFRESH_TOKEN_ROTATION: mode, REFRESH_TOKEN_TTL: '4s', REFRESH_TOKEN_ABSOLUTE_TTL: '4s' });
    }
  });
  afterAll(async () => {
    for (const app of [off, short.on, short.off]) await app?.close();
    await aths?.close();
  });

  const profile = (app: AthsApp, accessToken: string) => app.inject({ method: 'GET', url: '/api/user/profile', headers: bearer(accessToken) });
  const expectRefused = async (app: AthsApp, token: string) => {
    const res = await refresh(app, token);
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ success: false, errors: [{ field: 'refreshToken' }] });
  };
  const rowsOfUser = (userId: string) => aths.database.db.select().from(refreshTokens).where(eq(refreshTokens.userId, userId));

  it('on: a new refresh token each time; presenting the first one again revokes the whole family', async () => {
    const { refreshToken: first } = await register(aths.app);
    const rotated = await refresh(aths.app, first);
    expect(rotated.statusCode).toBe(200);
    const second = rotated.json().data.refreshToken as string;
    expect(second).not.toBe(first);
    await expectRefused(aths.app, first);
    await expectRefused(aths.app, second);
  });

  it('off: the same refresh token refreshes many times, comes back unchanged, and is stored only as its hash', async () => {
    const { refreshToken, user } = await register(off);
    const [before] = await rowsOfUser(user._id);
    for (let i = 0; i < 5; i++) {
      const res = await refresh(off, refreshToken);
      expect(res.statusCode).toBe(200);
      expect(res.json().data).toEqual({ accessToken: expect.any(String), refreshToken, expiresIn: 1800 });
      expect((await profile(off, res.json().data.accessToken)).statusCode).toBe(200);
    }
    // One row, holding the hash and not the token; the idle expiry slid forward, the session's end did not move.
    const rows = await rowsOfUser(user._id);
    expect(rows).toHaveLength(1);
    const [row] = rows;
    expect(row!.tokenHash).toBe(hashToken(refreshToken));
    expect(Object.values(row!).map(String)).not.toContain(refreshToken);
    expect(row!.rotatedAt).toBeNull();
    expect(row!.expiresAt.getTime()).toBeGreaterThan(before!.expiresAt.getTime());
    expect(row!.familyExpiresAt).toEqual(before!.familyExpiresAt);
    // 30 days from the registration (the row's created_at is taken a moment after the token's lifetimes).
    expect(Math.abs(row!.familyExpiresAt.getTime() - row!.createdAt.getTime() - 30 * DAY)).toBeLessThan(5_000);
    expect(row!.expiresAt.getTime()).toBeLessThanOrEqual(row!.familyExpiresAt.getTime());
  });

  it('off: role and e-mail are re-read from the user; a login token is kept too; concurrent refreshes all succeed', async () => {
    const { email, user } = await register(off);
    const signedIn = await login(off, email);
    const refreshToken = signedIn.json().data.refreshToken as string;
    const admin = await adminSession(off);
    const promoted = await off.inject({
      method: 'PUT',
      url: `/api/admin/users/${user._id}/role`,
      headers: bearer(admin.accessToken),
      payload: { role: 'Administrator' },
    });
    expect(promoted.statusCode).toBe(200);

    const results = await Promise.all(Array.from({ length: 6 }, () => refresh(off, refreshToken)));
    expect(results.map((res) => res.statusCode)).toEqual(Array(6).fill(200));
    for (const res of results) expect(res.json().data.refreshToken).toBe(refreshToken);
    const claims = await off.aths.verifyAccessToken(results[0]!.json().data.accessToken);
    expect(claims).toMatchObject({ userId: user._id, email, role: 'Administrator' });
    expect((await refresh(off, refreshToken)).statusCode).toBe(200);
  });

  it('off: logout, password change, deactivation and deletion end the session', async () => {
    const loggedOut = await register(off);
    expect((await refresh(off, loggedOut.refreshToken)).statusCode).toBe(200);
    expect((await off.inject({ method: 'POST', url: '/api/auth/logout', payload: { refreshToken: loggedOut.refreshToken } })).statusCode).toBe(200);
    await expectRefused(off, loggedOut.refreshToken);

    const changed = await register(off);
    expect((await refresh(off, changed.refreshToken)).statusCode).toBe(200);
    const change = await off.inject({
      method: 'PUT',
      url: '/api/user/change-password',
      headers: bearer(changed.accessToken),
      payload: { currentPassword: PASSWORD, newPassword: 'Another456' },
    });
    expect(change.statusCode).toBe(200);
    await expectRefused(off, changed.refreshToken);

    const admin = await adminSession(off);
    const deactivated = await register(off);
    expect((await refresh(off, deactivated.refreshToken)).statusCode).toBe(200);
    const status = (action: string) =>
      off.inject({ method: 'PUT', url: `/api/admin/users/${deactivated.user._id}/${action}`, headers: bearer(admin.accessToken) });
    expect((await status('deactivate')).statusCode).toBe(200);
    await expectRefused(off, deactivated.refreshToken);
    // Reactivation does not bring the old session back.
    expect((await status('activate')).statusCode).toBe(200);
    await expectRefused(off, deactivated.refreshToken);

    const deleted = await register(off);
    expect((await refresh(off, deleted.refreshToken)).statusCode).toBe(200);
    const removal = await off.inject({ method: 'DELETE', url: `/api/admin/users/${deleted.user._id}`, headers: bearer(admin.accessToken) });
    expect(removal.statusCode).toBe(200);
    await expectRefused(off, deleted.refreshToken);
  });

  it('off: a token already rotated (while rotation was on) is still reuse and revokes its family', async () => {
    const { refreshToken: first } = await register(aths.app);
    const second = (await refresh(aths.app, first)).json().data.refreshToken as string;
    await expectRefused(off, first);
    await expectRefused(off, second);
  });

  it('both modes: a session past its absolute lifetime is refused, however recently it was refreshed', async () => {
    // Idle and absolute lifetime 4 s. A refresh at +1 s would, without the absolute cap, give the session until +5 s;
    // at +4.3 s it is refused. The family's end is set on the server before the registration answers, so it is at
    // most `registered` + 4 s; the first refresh has ~3 s of slack on a loaded machine.
    await Promise.all(
      (['on', 'off'] as const).map(async (mode) => {
        const app = short[mode]!;
        const { refreshToken, user, email } = await register(app);
        const registered = Date.now();
        await sleepUntil(registered + 1_000);
        const refreshed = await refresh(app, refreshToken);
        expect(refreshed.statusCode, mode).toBe(200);
        const current = refreshed.json().data.refreshToken as string;
        expect(current === refreshToken, mode).toBe(mode === 'off');
        const rows = await rowsOfUser(user._id);
        const familyEnd = rows[0]!.familyExpiresAt.getTime();
        expect(familyEnd, mode).toBeLessThanOrEqual(registered + 4_000);
        for (const row of rows) {
          expect(row.familyExpiresAt.getTime(), mode).toBe(familyEnd);
          expect(row.expiresAt.getTime(), mode).toBeLessThanOrEqual(familyEnd);
        }

        await sleepUntil(registered + 4_300);
        await expectRefused(app, current);
        // A new login starts a new session.
        const again = await login(app, email);
        expect((await refresh(app, again.json().data.refreshToken)).statusCode, mode).toBe(200);
      }),
    );
  });
});

describe.each(testDatabaseDrivers())('refresh-token migration on %s', (driver: DatabaseDriver) => {
  it('gives existing sessions an absolute end, and their tokens keep working after the upgrade', async () => {
    // The migrations before this change, applied to a database that then gets rows the old code wrote.
    const scratch = mkdtempSync(join(tmpdir(), 'aths-upgrade-'));
    const oldMigrations = join(scratch, 'migrations');
    cpSync(MIGRATIONS_FOLDER, oldMigrations, { recursive: true });
    const journalPath = join(oldMigrations, 'meta', '_journal.json');
    const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries: Array<{ tag: string }> };
    const index = journal.entries.findIndex((entry) => entry.tag === '0002_refresh_token_family_expiry');
    expect(index).toBeGreaterThan(0);
    writeFileSync(journalPath, JSON.stringify({ ...journal, entries: journal.entries.slice(0, index) }));

    const testDb = await createTestDatabase(driver, 'aths_upgrade');
    const url = driver === 'pglite' ? join(scratch, 'data') : testDb.url;
    const open = (migrationsFolder: string) => openDatabase({ url, defaultDir: '', migrationsFolder, migrationsTable: MIGRATIONS_TABLE });
    const now = Date.now();
    const at = (offset: number) => new Date(now + offset).toISOString();
    try {
      const old = await open(oldMigrations);
      await old.db.execute(sql`INSERT INTO users (id, email, password_hash, full_name, contact_number)
        VALUES ('aaaaaaaaaaaaaaaaaaaaaaaa', 'old@example.com', 'x', 'Old Timer', '0123456789')`);
      const token = (id: string, family: string, created: number, expires: number, rotated: boolean) =>
        old.db.execute(sql`INSERT INTO refresh_tokens (id, token_hash, family_id, user_id, created_at, expires_at, rotated_at)
          VALUES (${id}, ${hashToken(`token-${id}`)}, ${family}, 'aaaaaaaaaaaaaaaaaaaaaaaa', ${at(created)}::timestamptz,
                  ${at(expires)}::timestamptz, ${rotated ? at(created + DAY) : null}::timestamptz)`);
      // Family A started 10 days ago and was rotated once; family B started 2 days ago.
      await token('a1', 'A', -10 * DAY, -3 * DAY, true);
      await token('a2', 'A', -9 * DAY, 4 * DAY, false);
      await token('b1', 'B', -2 * DAY, 5 * DAY, false);
      await old.close();

      const upgraded = await open(MIGRATIONS_FOLDER);
      try {
        const rows = await rowsOf<{ id: string; family_expires_at: string | Date }>(
          upgraded.db,
          sql`SELECT id, family_expires_at FROM refresh_tokens ORDER BY id`,
        );
        const ends = Object.fromEntries(rows.map((row) => [row.id, new Date(row.family_expires_at).getTime()]));
        expect(ends).toEqual({ a1: now + 20 * DAY, a2: now + 20 * DAY, b1: now + 28 * DAY });

        const app = await buildTestApp(upgraded);
        try {
          const res = await refresh(app, 'token-a2');
          expect(res.statusCode).toBe(200);
          const [next] = await upgraded.db.select().from(refreshTokens).where(eq(refreshTokens.tokenHash, hashToken(res.json().data.refreshToken)));
          expect(next!.familyExpiresAt.getTime()).toBe(now + 20 * DAY);
        } finally {
          await app.close();
        }
      } finally {
        await upgraded.close();
      }
    } finally {
      await testDb.drop();
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});

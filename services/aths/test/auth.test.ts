import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { testDatabaseDrivers } from '@shop/service-kit/testing';
import { bearer, login, PASSWORD, register, registration, startAths, startSmtp, uniqueEmail, type Smtp, type TestAths } from './helpers.ts';

describe.each(testDatabaseDrivers())('ATHS auth flows on %s', (driver) => {
  let aths: TestAths;
  let smtp: Smtp;

  beforeAll(async () => {
    smtp = await startSmtp();
    aths = await startAths(driver, { SMTP_URL: smtp.url, APP_BASE_URL: 'https://shop.example' });
  });
  afterAll(async () => {
    await aths?.close();
    await smtp?.close();
  });

  const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
    aths.app.inject({ method: 'POST', url, payload: payload as object, headers });

  it('registers a Customer, returns tokens and the public user, and sends a verification mail', async () => {
    const body = registration({ email: `  Mixed.Case.${Date.now()}@Example.COM `, address: { city: 'London', extra: 'ignored' }, unknownKey: 1 });
    const res = await post('/api/auth/register', body);
    expect(res.statusCode).toBe(201);
    const json = res.json();
    expect(json.success).toBe(true);
    expect(json.message).toBe('User registered successfully');
    const { user, accessToken, refreshToken, expiresIn } = json.data;
    expect(user).toEqual({
      _id: expect.stringMatching(/^[0-9a-f]{24}$/),
      email: body.email.trim().toLowerCase(),
      fullName: 'Ada Lovelace',
      contactNumber: '+44 20 7946 0000',
      address: { street: null, city: 'London', state: null, zipCode: null, country: null },
      role: 'Customer',
      isActive: true,
      emailVerified: false,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      updatedAt: expect.any(String),
    });
    expect(JSON.stringify(json)).not.toMatch(/hash/i);
    expect(accessToken.split('.')).toHaveLength(3);
    expect(refreshToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(expiresIn).toBe(1800);

    const token = await smtp.tokenFor(user.email, 'Verification token');
    const mail = smtp.messages.find((m) => m.to.includes(user.email))!;
    // The link goes to ATHS's own GET route (PUBLIC_BASE_URL, default http://localhost:<PORT>), which redirects to the app.
    expect(mail.text).toContain(`${aths.app.aths.config.PUBLIC_BASE_URL}/api/auth/verify-email?token=${token}`);

    const verified = await post('/api/auth/verify-email', { token });
    expect(verified.statusCode).toBe(200);
    expect(verified.json().message).toBe('Email verified successfully');
    expect(verified.json().data.user.emailVerified).toBe(true);
    const again = await post('/api/auth/verify-email', { token });
    expect(again.statusCode).toBe(400);
    expect(again.json().errors[0].field).toBe('token');

    const resend = await post('/api/auth/resend-verification', {}, bearer(accessToken));
    expect(resend.statusCode).toBe(400);
  });

  it('resends a verification mail to an unverified user; the old link stops working', async () => {
    const { email, accessToken } = await register(aths.app);
    const first = await smtp.tokenFor(email, 'Verification token');
    const count = smtp.messages.length;
    const resend = await aths.app.inject({ method: 'POST', url: '/api/auth/resend-verification', headers: bearer(accessToken) });
    expect(resend.statusCode).toBe(200);
    const second = await smtp.tokenFor(email, 'Verification token', count);
    expect(second).not.toBe(first);
    expect((await post('/api/auth/verify-email', { token: first })).statusCode).toBe(400);
    expect((await post('/api/auth/verify-email', { token: second })).statusCode).toBe(200);
    expect((await post('/api/auth/verify-email', { token: 'x'.repeat(43) })).json().errors[0]).toMatchObject({ field: 'token' });
  });

  it('a slow SMTP server does not slow registration', async () => {
    smtp.setDelay(4_000);
    try {
      const started = Date.now();
      await register(aths.app);
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      smtp.setDelay(0);
    }
  });

  it('refuses any role but Customer at registration with 403 body -> role', async () => {
    for (const role of ['Administrator', 'administrator', 'Superuser']) {
      const res = await post('/api/auth/register', registration({ role }));
      expect(res.statusCode).toBe(403);
      expect(res.json()).toMatchObject({ success: false, errors: [{ field: 'body -> role' }] });
    }
    expect((await post('/api/auth/register', registration({ role: 'Customer' }))).statusCode).toBe(201);
  });

  it('answers 409 field email for a taken address, in any letter case', async () => {
    const { email } = await register(aths.app);
    const res = await post('/api/auth/register', registration({ email: email.toUpperCase() }));
    expect(res.statusCode).toBe(409);
    expect(res.json().errors).toEqual([{ field: 'email', message: expect.any(String) }]);
  });

  it('concurrent duplicate registrations: exactly one 201, the rest 409', async () => {
    const body = registration();
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => post('/api/auth/register', { ...body, email: i % 2 ? body.email.toUpperCase() : body.email })),
    );
    const codes = results.map((r) => r.statusCode).sort();
    expect(codes.filter((c) => c === 201)).toHaveLength(1);
    expect(codes.filter((c) => c === 409)).toHaveLength(7);
  });

  it('logs in; wrong password, unknown e-mail and deactivated account answer the same 401', async () => {
    const { email, user } = await register(aths.app);
    const good = await login(aths.app, email.toUpperCase());
    expect(good.statusCode).toBe(200);
    expect(good.json().message).toBe('Login successful');
    expect(good.json().data.user._id).toBe(user._id);

    const wrong = await login(aths.app, email, 'Wrong1234');
    const unknown = await login(aths.app, uniqueEmail('nobody'), PASSWORD);
    await aths.app.aths.administration.setActive(user._id, false, 'admin');
    const inactive = await login(aths.app, email);
    for (const res of [wrong, unknown, inactive]) {
      expect(res.statusCode).toBe(401);
      expect(res.json().message).toBe('Invalid email or password');
    }
    expect(new Set([wrong.body, unknown.body, inactive.body]).size).toBe(1);
  });

  it('spends a comparable hash time for an unknown e-mail', async () => {
    const { email } = await register(aths.app);
    const dummy = vi.spyOn(aths.app.aths.passwords, 'verifyDummy');
    await login(aths.app, uniqueEmail('warm'));
    expect(dummy).toHaveBeenCalledTimes(1);
    dummy.mockRestore();
    const time = async (address: string) => {
      const started = performance.now();
      await login(aths.app, address, 'Wrong1234');
      return performance.now() - started;
    };
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 5; i++) {
      known.push(await time(email));
      unknown.push(await time(uniqueEmail('ghost')));
    }
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[2]!;
    // Loose on purpose (shared CI machines): an unknown address must not answer in a fraction of a hash's time.
    expect(median(unknown)).toBeGreaterThan(median(known) * 0.3);
  });

  it('rotates refresh tokens, re-reads role and e-mail, and revokes the family on reuse', async () => {
    const { refreshToken, user } = await register(aths.app);
    const first = await post('/api/auth/refresh-token', { refreshToken });
    expect(first.statusCode).toBe(200);
    const pair = first.json().data;
    expect(pair).toEqual({ accessToken: expect.any(String), refreshToken: expect.any(String), expiresIn: 1800 });
    expect(pair.refreshToken).not.toBe(refreshToken);

    // The role comes from the user row, not the old token.
    const admin = await aths.app.aths.registration.createUser(
      { email: uniqueEmail('a'), password: PASSWORD, fullName: 'Admin', contactNumber: '0123456789', role: 'Administrator' },
      { sendVerification: false },
    );
    await aths.app.aths.administration.changeRole(admin.id, user._id, 'Administrator');
    const second = await post('/api/auth/refresh-token', { refreshToken: pair.refreshToken });
    expect(second.statusCode).toBe(200);
    const claims = await aths.app.aths.verifyAccessToken(second.json().data.accessToken);
    expect(claims.role).toBe('Administrator');
    const third = second.json().data.refreshToken as string;

    // Reuse of an already-rotated token: 401 and the whole family (including the newest token) is revoked.
    const reuse = await post('/api/auth/refresh-token', { refreshToken: pair.refreshToken });
    expect(reuse.statusCode).toBe(401);
    expect(reuse.json().errors[0].field).toBe('refreshToken');
    expect((await post('/api/auth/refresh-token', { refreshToken: third })).statusCode).toBe(401);

    expect((await post('/api/auth/refresh-token', { refreshToken: 'not-a-token' })).statusCode).toBe(401);
    expect((await post('/api/auth/refresh-token', {})).statusCode).toBe(400);
  });

  it('two simultaneous uses of one refresh token: one succeeds, and the family is revoked', async () => {
    const { refreshToken } = await register(aths.app);
    const results = await Promise.all([0, 1].map(() => post('/api/auth/refresh-token', { refreshToken })));
    const codes = results.map((r) => r.statusCode).sort();
    expect(codes).toEqual([200, 401]);
  });

  it('refresh for a deactivated user answers 401', async () => {
    const { refreshToken, user } = await register(aths.app);
    await aths.app.aths.administration.setActive(user._id, false, 'internal');
    expect((await post('/api/auth/refresh-token', { refreshToken })).statusCode).toBe(401);
  });

  it('logout ends the session and accepts unknown or missing tokens', async () => {
    const { refreshToken } = await register(aths.app);
    const out = await post('/api/auth/logout', { refreshToken });
    expect(out.statusCode).toBe(200);
    expect(out.json()).toEqual({ success: true, message: 'Logout successful' });
    expect((await post('/api/auth/refresh-token', { refreshToken })).statusCode).toBe(401);
    expect((await post('/api/auth/logout', { refreshToken: 'unknown' })).statusCode).toBe(200);
    expect((await post('/api/auth/logout', {})).statusCode).toBe(200);
    expect((await aths.app.inject({ method: 'POST', url: '/api/auth/logout' })).statusCode).toBe(200);
  });

  it('forgot/reset password: same answer for unknown e-mail, single-use token, refresh tokens revoked', async () => {
    const { email, refreshToken } = await register(aths.app);
    const count = smtp.messages.length;
    const known = await post('/api/auth/forgot-password', { email });
    const unknown = await post('/api/auth/forgot-password', { email: uniqueEmail('ghost') });
    expect(known.statusCode).toBe(200);
    expect(unknown.statusCode).toBe(200);
    expect(known.body).toBe(unknown.body);

    const token = await smtp.tokenFor(email, 'Reset token', count);
    expect(smtp.messages.find((m) => m.text.includes(token))!.text).toContain(`https://shop.example/reset-password?token=${token}`);

    const mismatch = await post('/api/auth/reset-password', { token, newPassword: 'NewSecret456', confirmPassword: 'Other456A' });
    expect(mismatch.statusCode).toBe(400);
    expect(mismatch.json().errors[0].field).toBe('body -> confirmPassword');
    const weak = await post('/api/auth/reset-password', { token, newPassword: 'weak' });
    expect(weak.statusCode).toBe(400);

    const reset = await post('/api/auth/reset-password', { resetToken: token, newPassword: 'NewSecret456', confirmPassword: 'NewSecret456' });
    expect(reset.statusCode).toBe(200);
    expect((await post('/api/auth/reset-password', { token, newPassword: 'NewSecret789' })).statusCode).toBe(400);
    expect((await post('/api/auth/refresh-token', { refreshToken })).statusCode).toBe(401);
    expect((await login(aths.app, email)).statusCode).toBe(401);
    expect((await login(aths.app, email, 'NewSecret456')).statusCode).toBe(200);
    const missing = await post('/api/auth/reset-password', { newPassword: 'NewSecret456' });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().errors[0].field).toBe('body -> token');
  });

  it('an expired reset token is refused', async () => {
    const { email, user } = await register(aths.app);
    const count = smtp.messages.length;
    await post('/api/auth/forgot-password', { email });
    const token = await smtp.tokenFor(email, 'Reset token', count);
    const { oneTimeTokens } = await import('../src/one-time-tokens/schema.ts');
    const { eq } = await import('drizzle-orm');
    await aths.app.aths.db.update(oneTimeTokens).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(oneTimeTokens.userId, user._id));
    const res = await post('/api/auth/reset-password', { token, newPassword: 'NewSecret456' });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors[0].field).toBe('token');
  });

  it('profile: read, edit (merge address), validation, change password, delete account', async () => {
    const { accessToken, refreshToken, email } = await register(aths.app);
    const profile = await aths.app.inject({ method: 'GET', url: '/api/user/profile', headers: bearer(accessToken) });
    expect(profile.statusCode).toBe(200);
    expect(profile.json().data.user.email).toBe(email);

    const put = (payload: object) => aths.app.inject({ method: 'PUT', url: '/api/user/profile', headers: bearer(accessToken), payload });
    const edited = await put({ fullName: 'Ada King', address: { city: 'Paris', zipCode: '75001' }, role: 'Administrator', email: 'x@y.z' });
    expect(edited.statusCode).toBe(200);
    expect(edited.json().data.user).toMatchObject({ fullName: 'Ada King', role: 'Customer', email, address: { city: 'Paris', zipCode: '75001' } });
    const merged = await put({ address: { street: '1 Rue' } });
    expect(merged.json().data.user.address).toMatchObject({ street: '1 Rue', city: 'Paris' });
    const bad = await put({ contactNumber: '12345abc90' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0].field).toBe('body -> contactNumber');

    const change = (payload: object) => aths.app.inject({ method: 'PUT', url: '/api/user/change-password', headers: bearer(accessToken), payload });
    const wrong = await change({ currentPassword: 'Nope12345', newPassword: 'Changed123' });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().errors[0].field).toBe('currentPassword');
    expect((await change({ currentPassword: PASSWORD, newPassword: 'Changed123', confirmPassword: 'Changed124' })).statusCode).toBe(400);
    expect((await change({ currentPassword: PASSWORD, newPassword: 'short' })).statusCode).toBe(400);
    expect((await change({ currentPassword: PASSWORD, newPassword: 'Changed123' })).statusCode).toBe(200);
    expect((await post('/api/auth/refresh-token', { refreshToken })).statusCode).toBe(401);
    expect((await login(aths.app, email, 'Changed123')).statusCode).toBe(200);

    const del = (payload: object) => aths.app.inject({ method: 'DELETE', url: '/api/user/account', headers: bearer(accessToken), payload });
    const noConfirm = await del({ password: 'Changed123', confirmation: 'delete' });
    expect(noConfirm.statusCode).toBe(400);
    expect(noConfirm.json().errors[0].field).toBe('body -> confirmation');
    expect((await del({ password: 'Wrong1234', confirmation: 'DELETE' })).statusCode).toBe(401);
    expect((await del({ password: 'Changed123', confirmation: 'DELETE' })).statusCode).toBe(200);
    // The still-valid access token of a deactivated account: 403 account.
    const after = await aths.app.inject({ method: 'GET', url: '/api/user/profile', headers: bearer(accessToken) });
    expect(after.statusCode).toBe(403);
    expect(after.json().errors[0].field).toBe('account');
    expect((await login(aths.app, email, 'Changed123')).statusCode).toBe(401);
  });

  it('validation boundaries answer 400 with body -> field, never 500', async () => {
    const cases: Array<[Record<string, unknown>, string | null]> = [
      [{ fullName: 'A' }, 'body -> fullName'],
      [{ fullName: 'Ab' }, null],
      [{ fullName: 'x'.repeat(100) }, null],
      [{ fullName: 'x'.repeat(101) }, 'body -> fullName'],
      [{ password: 'Short1A' }, 'body -> password'],
      [{ password: 'alllower123' }, 'body -> password'],
      [{ password: 'ALLUPPER123' }, 'body -> password'],
      [{ password: 'NoDigitsHere' }, 'body -> password'],
      [{ password: `Aa1${'x'.repeat(125)}` }, null],
      [{ password: `Aa1${'x'.repeat(126)}` }, 'body -> password'],
      [{ contactNumber: '123456789' }, 'body -> contactNumber'],
      [{ contactNumber: '1234567890' }, null],
      [{ contactNumber: '+1 (555) 123-4567' }, null],
      [{ contactNumber: '1'.repeat(21) }, 'body -> contactNumber'],
      [{ contactNumber: '555-CALL-NOW' }, 'body -> contactNumber'],
      [{ email: 'not-an-email' }, 'body -> email'],
      [{ email: 42 }, 'body -> email'],
      [{ email: undefined }, 'body -> email'],
      [{ address: { city: 5 } }, 'body -> address -> city'],
    ];
    for (const [overrides, field] of cases) {
      const res = await post('/api/auth/register', registration(overrides));
      if (field === null) {
        expect(res.statusCode, JSON.stringify(overrides)).toBe(201);
      } else {
        expect(res.statusCode, JSON.stringify(overrides)).toBe(400);
        expect(res.json().message).toBe('Validation failed');
        expect(res.json().errors.map((e: { field: string }) => e.field)).toContain(field);
      }
    }
    const invalidEmail = await post('/api/auth/register', registration({ email: 'bad@' }));
    expect(invalidEmail.json().errors).toContainEqual({ field: 'body -> email', message: 'value is not a valid email address' });
    const noBody = await aths.app.inject({ method: 'POST', url: '/api/auth/register' });
    expect(noBody.statusCode).toBe(400);
    const badJson = await aths.app.inject({ method: 'POST', url: '/api/auth/login', payload: '{', headers: { 'content-type': 'application/json' } });
    expect(badJson.statusCode).toBe(400);
  });
});

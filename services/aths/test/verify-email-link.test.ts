import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { ConfigError, createLogger } from '@shop/service-kit';
import { testDatabaseDrivers } from '@shop/service-kit/testing';
import { buildApp, type AthsApp } from '../src/app.ts';
import { loadAthsConfig } from '../src/config.ts';
import { oneTimeTokens } from '../src/one-time-tokens/schema.ts';
import { API_KEY, bearer, register, startAths, startSmtp, type Smtp, type TestAths } from './helpers.ts';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const REDIRECT = 'https://shop.example/welcome?lang=de&emailVerified=stale#top';

describe('verification link configuration', () => {
  it('defaults: the link to http://localhost:<PORT>, the redirect to APP_BASE_URL/login', () => {
    const config = loadAthsConfig({ NODE_ENV: 'test', PORT: '5011', APP_BASE_URL: 'https://shop.example/app' });
    expect(config.PUBLIC_BASE_URL).toBe('http://localhost:5011');
    expect(config.EMAIL_VERIFIED_REDIRECT_URL).toBe('https://shop.example/app/login');
    expect(loadAthsConfig({ NODE_ENV: 'test' }).EMAIL_VERIFIED_REDIRECT_URL).toBe('http://localhost:3000/login');
  });

  it('refuses URLs that are not http(s), naming the variable', () => {
    expect(() => loadAthsConfig({ NODE_ENV: 'test', EMAIL_VERIFIED_REDIRECT_URL: 'javascript:alert(1)' })).toThrow(ConfigError);
    expect(() => loadAthsConfig({ NODE_ENV: 'test', PUBLIC_BASE_URL: 'not a url' })).toThrow(/PUBLIC_BASE_URL/);
  });

  it('warns in production when PUBLIC_BASE_URL is unset', () => {
    const config = loadAthsConfig({
      NODE_ENV: 'production',
      SERVICE_API_KEYS: API_KEY,
      CRMS_BASE_URL: 'http://crms:5002',
      CRMS_SERVICE_API_KEY: API_KEY,
      SMTP_URL: 'smtp://mail:25',
    });
    expect(config.warnings.join('\n')).toMatch(/PUBLIC_BASE_URL is not set/);
  });
});

describe.each(testDatabaseDrivers())('GET /api/auth/verify-email (the link in the mail) on %s', (driver) => {
  let aths: TestAths;
  let smtp: Smtp;
  let athsUrl: string;

  beforeAll(async () => {
    smtp = await startSmtp();
    const port = await freePort();
    athsUrl = `http://127.0.0.1:${port}`;
    aths = await startAths(driver, {
      SMTP_URL: smtp.url,
      APP_BASE_URL: 'https://shop.example',
      PUBLIC_BASE_URL: athsUrl,
      EMAIL_VERIFIED_REDIRECT_URL: REDIRECT,
    });
    await aths.app.listen({ port, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await aths?.close();
    await smtp?.close();
  });

  /** Opens a URL like a browser that does not follow redirects: status, Location and Cache-Control. */
  async function open(url: string, method = 'GET') {
    const response = await fetch(url, { method, redirect: 'manual' });
    const body = await response.text();
    return { status: response.status, location: response.headers.get('location'), cacheControl: response.headers.get('cache-control'), body };
  }

  const linkIn = async (email: string, after = 0) => {
    const token = await smtp.tokenFor(email, 'Verification token', after);
    const mail = smtp.messages.filter((m) => m.to.includes(email)).at(-1)!;
    const link = /(http\S+verify-email\S+)/.exec(mail.text)![1]!;
    return { token, link };
  };

  const outcome = (location: string | null) => {
    const url = new URL(location!);
    return { emailVerified: url.searchParams.get('emailVerified'), reason: url.searchParams.get('reason') };
  };

  it('the mail links to this route; following it verifies and redirects with emailVerified=1, once', async () => {
    const { email, accessToken } = await register(aths.app);
    const { token, link } = await linkIn(email);
    expect(link).toBe(`${athsUrl}/api/auth/verify-email?token=${token}`);

    const first = await open(link);
    expect(first.status).toBe(302);
    expect(first.body).toBe('');
    expect(first.cacheControl).toBe('no-store');
    // The configured page, its own parameters and fragment kept, emailVerified set (not duplicated), no reason.
    expect(first.location).toBe('https://shop.example/welcome?lang=de&emailVerified=1#top');

    const profile = await aths.app.inject({ method: 'GET', url: '/api/user/profile', headers: bearer(accessToken) });
    expect(profile.json().data.user.emailVerified).toBe(true);

    const again = await open(link);
    expect(again.status).toBe(302);
    expect(outcome(again.location)).toEqual({ emailVerified: '0', reason: 'used' });
    expect(new URL(again.location!).searchParams.get('lang')).toBe('de');
    // The POST form answers the same token as before: 400 field token.
    const post = await aths.app.inject({ method: 'POST', url: '/api/auth/verify-email', payload: { token } });
    expect(post.statusCode).toBe(400);
  });

  it('garbage, missing, empty, overlong, repeated and NUL tokens redirect with a reason, never JSON', async () => {
    const cases: Array<[string, string]> = [
      [`?token=${'x'.repeat(43)}`, 'invalid'],
      ['?token=not-a-token', 'invalid'],
      ['', 'missing'],
      ['?token=', 'missing'],
      ['?other=1', 'missing'],
      [`?token=${'a'.repeat(600)}`, 'invalid'],
      ['?token=a&token=b', 'invalid'],
      ['?token=%00abc', 'invalid'],
    ];
    for (const [query, reason] of cases) {
      const res = await open(`${athsUrl}/api/auth/verify-email${query}`);
      expect(res.status, query).toBe(302);
      expect(outcome(res.location), query).toEqual({ emailVerified: '0', reason });
    }
  });

  it('an expired link says expired and verifies nothing; a link replaced by a newer one says used', async () => {
    const expired = await register(aths.app);
    const { link } = await linkIn(expired.email);
    await aths.app.aths.db.update(oneTimeTokens).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(oneTimeTokens.userId, expired.user._id));
    expect(outcome((await open(link)).location)).toEqual({ emailVerified: '0', reason: 'expired' });
    const profile = await aths.app.inject({ method: 'GET', url: '/api/user/profile', headers: bearer(expired.accessToken) });
    expect(profile.json().data.user.emailVerified).toBe(false);

    const replaced = await register(aths.app);
    const old = await linkIn(replaced.email);
    const count = smtp.messages.length;
    const resend = await aths.app.inject({ method: 'POST', url: '/api/auth/resend-verification', headers: bearer(replaced.accessToken) });
    expect(resend.statusCode).toBe(200);
    const fresh = await linkIn(replaced.email, count);
    expect(outcome((await open(old.link)).location)).toEqual({ emailVerified: '0', reason: 'used' });
    expect(outcome((await open(fresh.link)).location)).toEqual({ emailVerified: '1', reason: null });
  });

  it('a HEAD (link checkers) does not use the token up', async () => {
    const { email } = await register(aths.app);
    const { link } = await linkIn(email);
    const head = await open(link, 'HEAD');
    expect(head.status).not.toBe(302);
    expect(head.status).toBeGreaterThanOrEqual(400);
    expect(outcome((await open(link)).location)).toEqual({ emailVerified: '1', reason: null });
  });

  it('without EMAIL_VERIFIED_REDIRECT_URL it redirects to APP_BASE_URL/login', async () => {
    const config = loadAthsConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', SERVICE_API_KEYS: API_KEY, APP_BASE_URL: 'https://shop.example/app/' });
    let second: AthsApp | undefined;
    try {
      second = await buildApp(config, {
        database: aths.database,
        logger: createLogger({ service: 'aths', level: 'silent', pretty: false }),
        customerProvisioning: false,
      });
      const res = await second.inject({ method: 'GET', url: '/api/auth/verify-email?token=nope' });
      expect(res.statusCode).toBe(302);
      expect(res.headers.location).toBe('https://shop.example/app/login?emailVerified=0&reason=invalid');
    } finally {
      await second?.close();
    }
  });
});

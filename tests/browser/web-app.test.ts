import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { testDatabaseDrivers, uniqueEmail } from '@shop/service-kit/testing';
import { PASSWORD, ProvisioningSystem } from '../support/system.ts';
import { chromiumMissing, launchChromium } from './support/chromium.ts';
import { serveWebApp } from './support/web-app.ts';

/**
 * The shop's web app as a browser runs it: a page on its own origin calling ATHS and CRMS with fetch, so every call
 * is cross-origin and goes through CORS (preflights included) in a real Chromium.
 */
// Skipped (with the reason in the test name) only outside CI when no Chromium is installed; CI fails instead.
const missing = chromiumMissing();
const LOGIN_LIMIT = 3;

interface Answer {
  status: number;
  body: { success?: boolean; message?: string; errors?: { field: string }[]; data?: Record<string, any> } | null;
  requestId: string | null;
  retryAfter: string | null;
}

declare global {
  interface Window {
    shop: {
      state: { accessToken: string | null; refreshToken: string | null };
      register(user: object): Promise<Answer>;
      login(email: string, password: string): Promise<Answer>;
      profile(): Promise<Answer>;
      me(): Promise<Answer>;
      refreshKeepingFirstToken(): Promise<Answer>;
      refreshRotating(): Promise<Answer>;
      attempt(url: string, init?: RequestInit): Promise<{ read: boolean; status?: number; error?: string }>;
    };
  }
}

const title = `the web app in Chromium on %s${missing ? ` (skipped: ${missing})` : ''}`;

describe.skipIf(missing !== undefined).each(testDatabaseDrivers())(title, (driver) => {
  let browser: Browser;
  let system: ProvisioningSystem;
  let allowed: Awaited<ReturnType<typeof serveWebApp>>;
  let foreign: Awaited<ReturnType<typeof serveWebApp>>;

  beforeAll(async () => {
    [allowed, foreign, browser] = await Promise.all([serveWebApp(), serveWebApp(), launchChromium()]);
    system = await ProvisioningSystem.start(
      driver,
      { CORS_ORIGINS: allowed.origin, RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_LOGIN_PER_EMAIL: String(LOGIN_LIMIT) },
      { CORS_ORIGINS: allowed.origin },
    );
  });
  afterAll(async () => {
    await browser?.close();
    await system?.close();
    await Promise.all([allowed?.close(), foreign?.close()]);
  });

  async function openApp(origin = allowed.origin): Promise<Page> {
    const page = await browser.newPage();
    await page.goto(`${origin}/?aths=${encodeURIComponent(system.athsUrl)}&crms=${encodeURIComponent(system.crmsUrl)}`);
    return page;
  }
  const newCustomer = () => ({ email: uniqueEmail('web'), password: PASSWORD, fullName: 'Web Shopper', contactNumber: '+1 555 010 0000' });

  it('registers, signs in, reads the CRMS record and keeps a rotating session alive (REFRESH_TOKEN_ROTATION=on)', async () => {
    const page = await openApp();
    const customer = newCustomer();
    const registered = await page.evaluate((user) => window.shop.register(user), customer);
    expect(registered.status).toBe(201);
    expect(registered.requestId).toBeTruthy();

    const loggedIn = await page.evaluate(({ email, password }) => window.shop.login(email, password), customer);
    expect(loggedIn.status).toBe(200);
    const me = await page.evaluate(() => window.shop.me());
    expect(me.status).toBe(200);
    expect(me.body?.data).toMatchObject({ email: customer.email, fullName: customer.fullName });

    // A client that stores each rotated token refreshes as often as it likes.
    const first = await page.evaluate(() => window.shop.refreshRotating());
    const second = await page.evaluate(() => window.shop.refreshRotating());
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(second.body?.data?.refreshToken).not.toBe(first.body?.data?.refreshToken);
    expect((await page.evaluate(() => window.shop.profile())).status).toBe(200);

    // The shop's web app keeps its first token: with rotation on, its second refresh is reuse and ends the session.
    await page.evaluate(({ email, password }) => window.shop.login(email, password), customer);
    expect((await page.evaluate(() => window.shop.refreshKeepingFirstToken())).status).toBe(200);
    const reused = await page.evaluate(() => window.shop.refreshKeepingFirstToken());
    expect(reused.status).toBe(401);
    expect(reused.body?.errors?.[0]?.field).toBe('refreshToken');
    await page.close();
  });

  it('lets the page read error bodies and headers: a 409 and a 429', async () => {
    const page = await openApp();
    const customer = newCustomer();
    expect((await page.evaluate((user) => window.shop.register(user), customer)).status).toBe(201);
    const taken = await page.evaluate((user) => window.shop.register(user), customer);
    expect(taken.status).toBe(409);
    expect(taken.body).toMatchObject({ success: false, message: 'Email is already registered' });
    expect(taken.requestId).toBeTruthy();

    let limited: Answer | undefined;
    for (let attempt = 0; attempt <= LOGIN_LIMIT && limited?.status !== 429; attempt++) {
      limited = await page.evaluate((email) => window.shop.login(email, 'Wrong-password-1'), customer.email);
    }
    expect(limited?.status).toBe(429);
    expect(limited?.body).toMatchObject({ success: false, message: 'Too many requests' });
    expect(Number(limited?.retryAfter)).toBeGreaterThan(0);
    await page.close();
  });

  it('keeps the web app signed in when it never stores the rotated token (REFRESH_TOKEN_ROTATION=off)', async () => {
    await system.stopAths();
    await system.startAths({ REFRESH_TOKEN_ROTATION: 'off' });
    try {
      const page = await openApp();
      const customer = newCustomer();
      expect((await page.evaluate((user) => window.shop.register(user), customer)).status).toBe(201);
      const firstToken = await page.evaluate(() => window.shop.state.refreshToken);
      for (let round = 0; round < 2; round++) {
        const refreshed = await page.evaluate(() => window.shop.refreshKeepingFirstToken());
        expect(refreshed.status).toBe(200);
        expect(refreshed.body?.data?.refreshToken).toBe(firstToken);
      }
      expect((await page.evaluate(() => window.shop.me())).status).toBe(200);
      expect((await page.evaluate(() => window.shop.profile())).status).toBe(200);
      await page.close();
    } finally {
      await system.stopAths();
      await system.startAths();
    }
  });

  it('blocks a page from an origin that is not allowed', async () => {
    const page = await openApp(foreign.origin);
    const login = await page.evaluate(
      (url) => window.shop.attempt(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"email":"a@b.co","password":"x"}' }),
      `${system.athsUrl}/api/auth/login`,
    );
    expect(login.read).toBe(false);
    // A simple GET is sent without a preflight, but the browser still refuses to hand the answer to the page.
    expect((await page.evaluate((url) => window.shop.attempt(url), `${system.athsUrl}/health`)).read).toBe(false);
    const me = await page.evaluate(
      (url) => window.shop.attempt(url, { headers: { authorization: 'Bearer x' } }),
      `${system.crmsUrl}/api/customers/me`,
    );
    expect(me.read).toBe(false);
    await page.close();

    // The same calls from the allowed origin are readable: the difference is CORS, not the network.
    const own = await openApp();
    expect(await own.evaluate((url) => window.shop.attempt(url), `${system.athsUrl}/health`)).toEqual({ read: true, status: 200 });
    await own.close();
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PERSON_NAME_MESSAGE } from '@shop/service-kit';
import { testDatabaseDrivers } from '@shop/service-kit/testing';
import { adminSession, bearer, login, register, registration, startAths, startSmtp, uniqueEmail, type Smtp, type TestAths } from './helpers.ts';

const SURROGATE = 'must not contain unpaired surrogate characters (\\uD800-\\uDFFF)';

/** Issue 12, items 2 and 5: lone surrogates, bodies that are not UTF-8, and names that carry lines into mail. */
describe.each(testDatabaseDrivers())('ATHS refuses text it would store rewritten, or mail as its own, on %s', (driver) => {
  let aths: TestAths;
  let smtp: Smtp;
  let admin: string;

  beforeAll(async () => {
    smtp = await startSmtp();
    aths = await startAths(driver, { SMTP_URL: smtp.url, APP_BASE_URL: 'https://shop.example' });
    admin = (await adminSession(aths.app)).accessToken;
  });
  afterAll(async () => {
    await aths?.close();
    await smtp?.close();
  });

  const inject = (method: 'POST' | 'PUT' | 'DELETE', url: string, payload: object | Buffer, token?: string) =>
    aths.app.inject({ method, url, payload, headers: { 'content-type': 'application/json', ...(token ? bearer(token) : {}) } });
  const expectRefused = (res: { statusCode: number; json(): unknown }, field: string, message: string) => {
    expect(res.statusCode, field).toBe(400);
    expect(res.json(), field).toEqual({ success: false, message: 'Validation failed', errors: [{ field, message }] });
  };
  /** Whether a user with this address exists, asked the way an administrator would. */
  const userExists = async (email: string) => {
    const res = await aths.app.inject({ method: 'GET', url: `/api/admin/users?search=${encodeURIComponent(email)}`, headers: bearer(admin) });
    return (res.json().data.pagination.total as number) > 0;
  };
  const profileOf = async (token: string) =>
    (await aths.app.inject({ method: 'GET', url: '/api/user/profile', headers: bearer(token) })).json().data.user;

  it('a lone surrogate in any field of register, profile edit or admin create is a 400 naming it, and nothing is stored', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ fullName: 'Sur \ud800 Name' }, 'body -> fullName'],
      [{ address: { city: 'Lon\udc00don' } }, 'body -> address -> city'],
      [{ address: { street: '1 High St', country: '\udbff' } }, 'body -> address -> country'],
      [{ contactNumber: '0123456789\ud800' }, 'body -> contactNumber'],
      [{ email: `a\ud800${uniqueEmail()}` }, 'body -> email'],
    ];
    for (const [overrides, field] of cases) {
      const body = registration(overrides);
      expectRefused(await inject('POST', '/api/auth/register', body), field, SURROGATE);
      expectRefused(await inject('POST', '/api/admin/users', { ...registration(overrides), role: 'Customer' }, admin), field, SURROGATE);
    }
    const refusedEmail = uniqueEmail('refused');
    expectRefused(await inject('POST', '/api/auth/register', registration({ email: refusedEmail, fullName: 'Sur \ud800 Name' })), 'body -> fullName', SURROGATE);
    expectRefused(
      await inject('POST', '/api/admin/users', { ...registration({ email: refusedEmail, address: { city: '\ud800' } }), role: 'Administrator' }, admin),
      'body -> address -> city',
      SURROGATE,
    );
    expect(await userExists(refusedEmail)).toBe(false);

    const { accessToken } = await register(aths.app, { address: { street: '1 High St', city: 'London' } });
    const before = await profileOf(accessToken);
    expectRefused(await inject('PUT', '/api/user/profile', { address: { street: '2 \ud800 St' } }, accessToken), 'body -> address -> street', SURROGATE);
    expectRefused(await inject('PUT', '/api/user/profile', { fullName: 'Ada \udfff' }, accessToken), 'body -> fullName', SURROGATE);
    expect(await profileOf(accessToken)).toEqual(before);
  });

  it('a password is never rewritten: a lone surrogate or bytes that are not UTF-8 are refused, so they cannot log in as U+FFFD', async () => {
    // An account whose password really contains U+FFFD, the character both would otherwise have become.
    const { email, accessToken } = await register(aths.app, { password: 'Secret12\ufffd' });
    const raw = (password: Buffer) => Buffer.concat([Buffer.from(`{"email":"${email}","password":"`), password, Buffer.from('"}')]);

    expectRefused(await inject('POST', '/api/auth/login', { email, password: 'Secret12\ud800' }), 'body -> password', SURROGATE);
    expectRefused(await inject('POST', '/api/auth/login', { email, password: 'Secret12\udfff' }), 'body -> password', SURROGATE);
    for (const bytes of [[0xff], [0xed, 0xa0, 0x80]]) {
      const res = await inject('POST', '/api/auth/login', raw(Buffer.from(bytes)));
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({ success: false, message: 'Request body is not valid UTF-8', errors: [{ field: 'body', message: 'must be encoded as UTF-8' }] });
    }
    expect((await inject('POST', '/api/auth/login', raw(Buffer.from('Secret12\ufffd')))).statusCode).toBe(200);

    const surrogateEmail = uniqueEmail('surrogate');
    expectRefused(await inject('POST', '/api/auth/register', registration({ email: surrogateEmail, password: 'Secret12\ud800' })), 'body -> password', SURROGATE);
    expect(await userExists(surrogateEmail)).toBe(false);

    const change = (payload: object) => inject('PUT', '/api/user/change-password', payload, accessToken);
    expectRefused(await change({ currentPassword: 'Secret12\ufffd', newPassword: 'Changed12\ud800' }), 'body -> newPassword', SURROGATE);
    expectRefused(await change({ currentPassword: 'Secret12\ud800', newPassword: 'Changed123' }), 'body -> currentPassword', SURROGATE);
    expectRefused(await inject('DELETE', '/api/user/account', { password: 'Secret12\ud800', confirmation: 'DELETE' }, accessToken), 'body -> password', SURROGATE);
    expect((await login(aths.app, email, 'Secret12\ufffd')).statusCode).toBe(200);

    const count = smtp.messages.length;
    await inject('POST', '/api/auth/forgot-password', { email });
    const token = await smtp.tokenFor(email, 'Reset token', count);
    expectRefused(await inject('POST', '/api/auth/reset-password', { token, newPassword: 'Reset1234\udc00' }), 'body -> newPassword', SURROGATE);
    // The refused attempt did not use the token up, and did not change the password.
    expect((await login(aths.app, email, 'Secret12\ufffd')).statusCode).toBe(200);
    expect((await inject('POST', '/api/auth/reset-password', { token, newPassword: 'Reset1234' })).statusCode).toBe(200);
    expect((await login(aths.app, email, 'Reset1234')).statusCode).toBe(200);
  });

  it('a name with a control or invisible formatting character is refused wherever a name is accepted', async () => {
    const names = ['Ada\nLovelace', 'Ada\r\nVisit https://evil.example', 'Ada\tLovelace', 'Ada \u202eecalevoL', 'Ada\u200bLovelace', 'Ada Lovelace\n'];
    const { accessToken } = await register(aths.app, { fullName: 'Ada Lovelace' });
    for (const fullName of names) {
      const email = uniqueEmail('ctl');
      expectRefused(await inject('POST', '/api/auth/register', registration({ email, fullName })), 'body -> fullName', PERSON_NAME_MESSAGE);
      expectRefused(await inject('POST', '/api/admin/users', { ...registration({ email }), fullName, role: 'Customer' }, admin), 'body -> fullName', PERSON_NAME_MESSAGE);
      expectRefused(await inject('PUT', '/api/user/profile', { fullName }, accessToken), 'body -> fullName', PERSON_NAME_MESSAGE);
      expect(await userExists(email)).toBe(false);
    }
    expect((await profileOf(accessToken)).fullName).toBe('Ada Lovelace');
  });

  it('international names are still accepted and kept exactly', async () => {
    const names = ["Zoë O'Brien-Łukasiewicz", 'Nguyễn Thị Minh Khai', '李小龙', 'محمد بن سلمان', 'می\u200cخواهم نیا', 'अनुज कुमार', 'Владимир Набоков'];
    for (const fullName of names) {
      const res = await inject('POST', '/api/auth/register', registration({ fullName }));
      expect(res.statusCode, fullName).toBe(201);
      expect(res.json().data.user.fullName).toBe(fullName);
      const edited = await inject('PUT', '/api/user/profile', { fullName: `${fullName} Jr.` }, res.json().data.accessToken);
      expect(edited.statusCode, fullName).toBe(200);
      expect(edited.json().data.user.fullName).toBe(`${fullName} Jr.`);
    }
    const created = await inject('POST', '/api/admin/users', { ...registration(), fullName: 'Αλέξανδρος Παπαδόπουλος', role: 'Administrator' }, admin);
    expect(created.statusCode).toBe(201);
  });

  it('mails carry no user-chosen text: a name cannot put words or links into the verification or reset mail', async () => {
    // A name the rule allows (no control characters) that tries to read as the shop's own words.
    const fullName = 'Claim your refund at https://evil.example/refund now';
    const refused = uniqueEmail('victim');
    expect((await inject('POST', '/api/auth/register', registration({ email: refused, fullName: 'Bob\n\nYour account is locked, call +1 555 0100' }))).statusCode).toBe(400);
    const { email } = await register(aths.app, { fullName });
    await smtp.tokenFor(email, 'Verification token');
    // Mail leaves in order: the refused registration would have been mailed before this one.
    expect(smtp.messages.some((m) => m.to.includes(refused))).toBe(false);
    const count = smtp.messages.length;
    await inject('POST', '/api/auth/forgot-password', { email });
    await smtp.tokenFor(email, 'Reset token', count);

    const mails = smtp.messages.filter((m) => m.to.includes(email));
    expect(mails.map((m) => m.raw.match(/^Subject: (.*)$/m)?.[1])).toEqual(['Verify your e-mail address', 'Reset your password']);
    for (const mail of mails) {
      expect(mail.text).not.toMatch(/evil\.example|refund|Claim/);
      expect(mail.text).toMatch(/^Hello,\r?$/m);
    }
  });
});

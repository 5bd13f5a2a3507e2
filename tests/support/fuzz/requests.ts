/**
 * Malformed requests from fast-check, each almost right (a valid skeleton built from the route's schema) with one or
 * more things wrong: bad path params, bad query values, wrong types, missing fields, huge strings, unicode, nested
 * junk, prototype keys, non-JSON bodies, wrong content types, wrong methods, with no, wrong or valid credentials.
 */
import fc from 'fast-check';
import { plausible, type JsonSchema, type Route } from './openapi.ts';

/** Every request comes from the web app's development origin, allowed by default: each answer must carry CORS. */
export const FUZZ_ORIGIN = 'http://localhost:3000';

const NASTY_STRINGS = [
  '',
  ' ',
  'null',
  'undefined',
  'true',
  '0',
  '-1',
  'NaN',
  'Infinity',
  '1e309',
  '9'.repeat(40),
  "' OR 1=1 --",
  "'; DROP TABLE customers; --",
  '%',
  '%%',
  '%_',
  '\\',
  '../../../etc/passwd',
  '<script>alert(1)</script>',
  '{{7*7}}',
  '${jndi:ldap://x}',
  '\u0000',
  '\u0000abc\u0000',
  '\ud800',
  '\udfff\ud800',
  '\u202e\u0644\u0627',
  '𝕳𝖊𝖑𝖑𝖔 🧨💥',
  'ﷺ'.repeat(50),
  'Z̸̡͎̈́a̵̛͈l̷̻͘g̶̱̈o̴̩͝',
  '__proto__',
  'constructor',
  'a@b',
  '@example.com',
  'user@',
  'user@@example.com',
  'USER@EXAMPLE.COM ',
  '0123456789abcdef0123456',
  '0123456789abcdef012345678',
  'zzzzzzzzzzzzzzzzzzzzzzzz',
  '0123456789ABCDEF01234567',
  '2026-13-45T99:99:99Z',
  'Bearer ',
];

const nastyString = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  { weight: 1, arbitrary: fc.integer({ min: 101, max: 20_000 }).map((n) => 'A'.repeat(n)) },
  { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 60_000 }).map((n) => '€'.repeat(n)) },
);

/** Nested arrays/objects, occasionally very deep. */
const deepJunk = fc.integer({ min: 20, max: 3_000 }).chain((depth) =>
  fc.constantFrom('array', 'object').map((kind) => {
    let value: unknown = 'bottom';
    for (let i = 0; i < depth; i++) value = kind === 'array' ? [value] : { a: value };
    return value;
  }),
);

const junkValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: nastyString },
  { weight: 2, arbitrary: fc.oneof(fc.integer(), fc.double(), fc.constantFrom(-1, 0, 1e308, -1e308, 2 ** 53 + 1, 0.5)) },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.array(fc.oneof(nastyString, fc.integer()), { maxLength: 5 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(nastyString, fc.integer()), { maxKeys: 5 }) },
  { weight: 1, arbitrary: deepJunk },
  { weight: 1, arbitrary: fc.array(fc.constant('x'), { minLength: 1_000, maxLength: 5_000 }) },
);

const badPathValue = fc.oneof(
  { weight: 4, arbitrary: nastyString.filter((value) => value.length < 3_000) },
  { weight: 2, arbitrary: fc.constantFrom('%E0%A4%A', '%ZZ', '%', '%00', '%2F', '%2e%2e', '..', '.', '%C0%AF', '%FF%FE') },
  // Well-formed ids that exist nowhere: these reach the handlers (404 expected).
  { weight: 2, arbitrary: fc.stringMatching(/^[0-9a-f]{24}$/) },
  { weight: 1, arbitrary: fc.stringMatching(/^[0-9A-F]{24}$/) },
);

type BodyKind =
  | { kind: 'json'; value: unknown }
  | { kind: 'raw'; contentType: string | undefined; payload: string };

export interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** The route it was derived from (for the coverage table). */
  route: string;
}

export interface Credentials {
  /** Headers sent when the request carries valid credentials: API keys and a bearer token. */
  valid: Record<string, string>[];
}

/** Breaks a skeleton object: drops, retypes, nests or bloats some fields, adds junk and prototype keys. */
function mutateObject(skeleton: Record<string, unknown>, schema: JsonSchema | undefined): fc.Arbitrary<unknown> {
  const keys = Object.keys(skeleton);
  const nestedKeys = Object.entries(schema?.properties ?? {})
    .filter(([, value]) => value.type === 'object')
    .map(([key]) => key);
  const edits = fc.array(
    fc.oneof(
      fc.record({ op: fc.constant('drop' as const), key: keys.length ? fc.constantFrom(...keys) : fc.constant('x') }),
      fc.record({ op: fc.constant('set' as const), key: keys.length ? fc.constantFrom(...keys) : fc.constant('x'), value: junkValue }),
      fc.record({ op: fc.constant('extra' as const), key: fc.constantFrom('__proto__', 'constructor', 'prototype', 'isAdmin', 'role', '$where', 'x'.repeat(300)), value: junkValue }),
      fc.record({
        op: fc.constant('nested' as const),
        key: nestedKeys.length ? fc.constantFrom(...nestedKeys) : fc.constant('address'),
        value: fc.dictionary(fc.constantFrom('street', 'city', 'zipCode', 'country', 'state', 'x'), junkValue, { maxKeys: 4 }),
      }),
    ),
    { minLength: 1, maxLength: 4 },
  );
  return edits.map((list) => {
    const out: Record<string, unknown> = { ...skeleton };
    for (const edit of list) {
      if (edit.op === 'drop') delete out[edit.key];
      else if (edit.op === 'extra' && edit.key === '__proto__') {
        Object.defineProperty(out, '__proto__', { value: edit.value, enumerable: true, configurable: true, writable: true });
      } else out[edit.key] = edit.value;
    }
    return out;
  });
}

function bodyArbitrary(route: Route): fc.Arbitrary<BodyKind | undefined> {
  const skeleton = plausible(route.body);
  const jsonish: fc.Arbitrary<BodyKind> = fc.oneof(
    {
      weight: 6,
      arbitrary:
        skeleton && typeof skeleton === 'object' && !Array.isArray(skeleton)
          ? mutateObject(skeleton as Record<string, unknown>, route.body).map((value) => ({ kind: 'json' as const, value }))
          : junkValue.map((value) => ({ kind: 'json' as const, value })),
    },
    { weight: 1, arbitrary: fc.constant({ kind: 'json' as const, value: skeleton ?? {} }) },
    { weight: 2, arbitrary: junkValue.map((value) => ({ kind: 'json' as const, value })) },
    { weight: 1, arbitrary: fc.constantFrom<unknown>([], [skeleton], 'string', 42, null, true).map((value) => ({ kind: 'json' as const, value })) },
  );
  const raw: fc.Arbitrary<BodyKind> = fc.oneof(
    fc.record({
      kind: fc.constant('raw' as const),
      contentType: fc.constantFrom('application/json', 'application/json; charset=utf-8'),
      payload: fc.constantFrom('{', '{"a":', '{"email": "x"', "{'single': 'quotes'}", 'null', '', '[1,2,', '\ufeff{}', '{"a":1}garbage', 'NaN', '{"__proto__": {"polluted": true}}', '{"constructor": {"prototype": {"x": 1}}}'),
    }),
    fc.record({
      kind: fc.constant('raw' as const),
      contentType: fc.constantFrom(
        'text/plain',
        'text/html',
        'application/xml',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=xyz',
        'application/octet-stream',
        'application/json; charset=utf-16',
        'application/jsonx',
        'application/vnd.api+json',
        '*/*',
        'invalid content type',
      ),
      payload: fc.constantFrom('email=a@b.c&password=x', 'hello', '<a>1</a>', '--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--xyz--', '{"email":"a@b.co"}'),
    }),
    fc.record({ kind: fc.constant('raw' as const), contentType: fc.constant(undefined), payload: fc.constantFrom('{"a":1}', 'plain words') }),
    fc.integer({ min: 65 * 1024, max: 300 * 1024 }).map((size) => ({
      kind: 'raw' as const,
      contentType: 'application/json',
      payload: JSON.stringify({ email: 'big@example.com', fullName: 'x'.repeat(size) }),
    })),
  );
  return fc.oneof({ weight: 6, arbitrary: jsonish }, { weight: 3, arbitrary: raw }, { weight: 1, arbitrary: fc.constant(undefined) });
}

function queryArbitrary(route: Route): fc.Arbitrary<string> {
  const names = Object.keys(route.query);
  const pair = fc.tuple(
    names.length ? fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...names) }, { weight: 1, arbitrary: fc.constantFrom('unknown', '__proto__', 'page[]', 'limit') }) : fc.constantFrom('unknown', 'page', 'limit', 'q'),
    fc.oneof(
      fc.constantFrom('-1', '0', '1', '101', '1.5', '1e3', '1e309', 'abc', '', '%', '%ZZ', 'true', 'null', '[]', '{}', '9999999999999999999999'),
      nastyString.filter((value) => value.length < 2_000),
    ),
  );
  return fc.array(pair, { maxLength: 4 }).map((pairs) => {
    if (pairs.length === 0) return '';
    return `?${pairs.map(([key, value]) => `${safeEncode(key)}=${/^%[%0-9A-Za-z]*$/.test(value) ? value : safeEncode(value)}`).join('&')}`;
  });
}

/** encodeURIComponent, except that a lone surrogate (which it refuses) is sent as the raw bytes of its code unit. */
function safeEncode(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return [...value].map((char) => {
      try {
        return encodeURIComponent(char);
      } catch {
        return '%ED%A0%80';
      }
    }).join('');
  }
}

function encodeSegment(value: string): string {
  // Deliberately malformed percent sequences stay raw; everything else is encoded (undici refuses raw non-ASCII).
  if (/^[%0-9A-Za-z.]*$/.test(value) && value.includes('%')) return value;
  return safeEncode(value);
}

export function requestArbitrary(route: Route, credentials: Credentials): fc.Arbitrary<FuzzRequest> {
  const pathArb = fc
    .tuple(...route.pathParams.map(() => fc.oneof({ weight: 5, arbitrary: badPathValue }, { weight: 1, arbitrary: fc.constant('0123456789abcdef01234567') })))
    .map((values) => {
      let index = 0;
      return route.path.replace(/\{[^}]+\}/g, () => encodeSegment(values[index++] ?? ''));
    });
  const authArb = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...credentials.valid) },
    { weight: 1, arbitrary: fc.constant<Record<string, string>>({}) },
    {
      weight: 1,
      arbitrary: fc.constantFrom<Record<string, string>>(
        { 'x-api-key': 'wrong', 'x-service-api-key': 'wrong', authorization: 'Bearer wrong' },
        { authorization: 'Basic YWRtaW46YWRtaW4=' },
        { authorization: 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIiwicm9sZSI6IkFkbWluaXN0cmF0b3IifQ.' },
        { authorization: 'Bearer' },
        { 'x-api-key': '' },
      ),
    },
  );
  const methodArb = fc.oneof(
    { weight: 9, arbitrary: fc.constant(route.method) },
    { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS') },
  );
  return fc
    .record({
      method: methodArb,
      path: pathArb,
      query: queryArbitrary(route),
      auth: authArb,
      body: bodyArbitrary(route),
      requestId: fc.oneof({ weight: 5, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom('x'.repeat(2_000), 'abc', '../../', '') }),
    })
    .map(({ method, path, query, auth, body, requestId }) => {
      const headers: Record<string, string> = { ...auth, origin: FUZZ_ORIGIN };
      if (requestId !== undefined) headers['x-request-id'] = requestId;
      let payload: string | undefined;
      if (body && method !== 'GET') {
        if (body.kind === 'json') {
          headers['content-type'] = 'application/json';
          payload = JSON.stringify(body.value) ?? 'null';
        } else {
          if (body.contentType) headers['content-type'] = body.contentType;
          payload = body.payload;
        }
      }
      // Keep the request line under Node's 16 KB header limit: past it Node's HTTP parser answers 431 before the app runs.
      const url = `${path}${query}`.slice(0, 8_000);
      return { method, path: url, headers, body: payload, route: `${route.method} ${route.path}` };
    });
}

/** Valid credentials for a cluster: the service's API keys plus an administrator's and a customer's bearer tokens. */
export function credentialSets(apiKey: string, tokens: string[]): Credentials {
  const valid: Record<string, string>[] = [];
  for (const token of tokens.length ? tokens : [undefined]) {
    const headers: Record<string, string> = { 'x-api-key': apiKey, 'x-service-api-key': apiKey };
    if (token) headers.authorization = `Bearer ${token}`;
    valid.push(headers);
  }
  return { valid };
}

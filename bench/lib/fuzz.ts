/**
 * A malformed-input fuzzer driven by each service's own OpenAPI document (GET /docs/json), so that every route it
 * declares is covered. fast-check generates, from a seed, requests that are almost right (a valid skeleton built
 * from the route's schema) with one or more things wrong: bad path params, bad query values, wrong types, missing
 * fields, huge strings, unicode, nested junk, prototype keys, non-JSON bodies, wrong content types, wrong methods,
 * with no, wrong or valid credentials (valid ones reach validation and the handlers).
 *
 * Every answer must be < 500 and, for errors, in the contract's envelope:
 * `{success: false, message, errors: [{field, message}]}`; successes must be `{success: true, message, ...}`.
 */
import fc from 'fast-check';
import { Pool } from 'undici';
import { seededRandom } from './fault-proxy.ts';

type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  pattern?: string;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  $ref?: string;
  default?: unknown;
  additionalProperties?: unknown;
};

interface OpenApiParameter {
  in: 'path' | 'query' | 'header' | 'cookie';
  name: string;
  required?: boolean;
  schema?: JsonSchema;
}

interface OpenApiOperation {
  parameters?: OpenApiParameter[];
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
  security?: unknown[];
}

interface OpenApiDocument {
  paths?: Record<string, Record<string, OpenApiOperation>>;
  components?: { schemas?: Record<string, JsonSchema> };
}

export interface Route {
  method: string;
  /** OpenAPI template, e.g. /api/customers/{customerId}. */
  path: string;
  pathParams: string[];
  query: Record<string, JsonSchema>;
  body: JsonSchema | undefined;
}

const HTTP_METHODS = ['get', 'post', 'put', 'patch', 'delete'];

/** Every operation of the document (HEAD/OPTIONS excluded); /docs UI assets are not part of the API. */
export function routesOf(document: OpenApiDocument): Route[] {
  const routes: Route[] = [];
  const resolve = (schema: JsonSchema | undefined): JsonSchema | undefined => resolveRef(document, schema);
  for (const [path, operations] of Object.entries(document.paths ?? {})) {
    for (const [method, operation] of Object.entries(operations)) {
      if (!HTTP_METHODS.includes(method)) continue;
      const parameters = operation.parameters ?? [];
      const query: Record<string, JsonSchema> = {};
      for (const parameter of parameters) if (parameter.in === 'query') query[parameter.name] = resolve(parameter.schema) ?? {};
      const pathParams = [...path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]!);
      routes.push({
        method: method.toUpperCase(),
        path,
        pathParams,
        query,
        body: resolve(operation.requestBody?.content?.['application/json']?.schema),
      });
    }
  }
  return routes;
}

function resolveRef(document: OpenApiDocument, schema: JsonSchema | undefined, depth = 0): JsonSchema | undefined {
  if (!schema || depth > 10) return schema;
  if (schema.$ref) {
    const name = schema.$ref.split('/').pop()!;
    return resolveRef(document, document.components?.schemas?.[name], depth + 1);
  }
  if (schema.properties) {
    const properties: Record<string, JsonSchema> = {};
    for (const [key, value] of Object.entries(schema.properties)) properties[key] = resolveRef(document, value, depth + 1) ?? {};
    return { ...schema, properties };
  }
  return schema;
}

/** A value that passes the schema as far as cheaply possible (the skeleton the fuzzer then breaks). */
export function plausible(schema: JsonSchema | undefined, depth = 0): unknown {
  if (!schema || depth > 6) return 'x';
  if (schema.const !== undefined) return schema.const;
  if (schema.enum?.length) return schema.enum[0];
  if (schema.default !== undefined) return schema.default;
  const union = schema.anyOf ?? schema.oneOf;
  if (union?.length) return plausible(union.find((option) => option.type !== 'null') ?? union[0], depth + 1);
  if (schema.allOf?.length) return plausible(schema.allOf[0], depth + 1);
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(schema.properties ?? {})) out[key] = plausible(value, depth + 1);
      return out;
    }
    case 'array':
      return [];
    case 'integer':
    case 'number':
      return schema.minimum ?? 1;
    case 'boolean':
      return true;
    default: {
      if (schema.format === 'email') return 'fuzz.user@example.com';
      if (schema.format === 'date-time') return '2026-01-26T10:30:00.000Z';
      if (schema.pattern === '^[0-9a-fA-F]{24}$' || /24/.test(schema.pattern ?? '')) return '0123456789abcdef01234567';
      const length = Math.max(schema.minLength ?? 0, Math.min(12, schema.maxLength ?? 12));
      return 'Abcdef12345678901234567890'.slice(0, Math.max(length, 1)).padEnd(length, '0');
    }
  }
}

// ------------------------------------------------------------------------------------------------ generators

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

// ------------------------------------------------------------------------------------------------ checking

export interface Finding {
  route: string;
  request: { method: string; path: string; contentType?: string; bodyPreview?: string };
  status: number;
  problem: string;
  bodyPreview: string;
}

export interface FuzzReport {
  service: string;
  routes: number;
  requests: number;
  statuses: Record<string, number>;
  serverErrors: number;
  envelopeViolations: number;
  missingRequestId: number;
  /** Answers without `access-control-allow-origin` although every request comes from an allowed browser origin. */
  missingCors: number;
  transportErrors: number;
  findings: Finding[];
  /** Every finding, grouped by route, status and problem, with a count and the first example. */
  groups: { route: string; status: number; problem: string; count: number; example: Finding }[];
  perRoute: Record<string, { requests: number; statuses: Record<string, number> }>;
  durationMs: number;
}

/** Every request comes from the web app's development origin, allowed by default: each answer must carry CORS. */
export const FUZZ_ORIGIN = 'http://localhost:3000';

/** Routes whose successful answers are not JSON envelopes by design (Swagger UI, Prometheus, JWKS). */
const NON_ENVELOPE_SUCCESS = /^\/(docs|metrics|\.well-known)(\/|$)/;
/** CRMS lists answer the bare `{items, pagination}` the earlier CRMS sent (API.md). */
const BARE_LIST_SUCCESS = /^\/api\/customers(\/search)?\/?$/;

function envelopeProblem(status: number, text: string, path: string): string | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    if (status < 400 && NON_ENVELOPE_SUCCESS.test(path)) return undefined;
    if (status === 204 || (status < 400 && text.length === 0)) return undefined;
    return 'body is not JSON';
  }
  if (status < 400 && NON_ENVELOPE_SUCCESS.test(path)) return undefined;
  if (typeof body !== 'object' || body === null) return 'body is not an object';
  const envelope = body as { success?: unknown; message?: unknown; errors?: unknown };
  if (status >= 400) {
    if (typeof envelope.message !== 'string') return 'no string message';
    if (envelope.success !== false) return 'error without success:false';
    if (!Array.isArray(envelope.errors) || envelope.errors.length === 0) return 'error without errors[]';
    for (const entry of envelope.errors) {
      const item = entry as { field?: unknown; message?: unknown };
      if (typeof item?.field !== 'string' || typeof item?.message !== 'string') return 'errors[] entry without string field/message';
    }
    return undefined;
  }
  if (status < 400 && BARE_LIST_SUCCESS.test(path)) {
    const list = body as { items?: unknown; pagination?: unknown };
    return Array.isArray(list.items) && typeof list.pagination === 'object' ? undefined : 'bare list without items/pagination';
  }
  if (typeof envelope.message !== 'string') return 'no string message';
  if (envelope.success !== true) return 'success answer without success:true';
  return undefined;
}

export interface FuzzOptions {
  service: string;
  baseUrl: string;
  credentials: Credentials;
  requests: number;
  seed?: number;
  concurrency?: number;
  /** Keep at most this many findings of each kind (default 20). */
  keepFindings?: number;
}

export async function fetchOpenApi(baseUrl: string): Promise<OpenApiDocument> {
  const response = await fetch(`${baseUrl}/docs/json`);
  if (!response.ok) throw new Error(`GET ${baseUrl}/docs/json answered ${response.status}`);
  return (await response.json()) as OpenApiDocument;
}

/** Sends `requests` malformed requests spread evenly over every documented route and checks each answer. */
export async function fuzzService(options: FuzzOptions): Promise<FuzzReport> {
  const started = Date.now();
  const document = await fetchOpenApi(options.baseUrl);
  const routes = routesOf(document);
  // Operational routes that the document does not list (it documents the API, not itself).
  for (const path of ['/docs/json', '/metrics', '/docs']) {
    if (!routes.some((route) => route.path === path && route.method === 'GET')) {
      routes.push({ method: 'GET', path, pathParams: [], query: {}, body: undefined });
    }
  }
  if (routes.length === 0) throw new Error(`${options.service}: /docs/json lists no routes`);
  const perRouteCount = Math.ceil(options.requests / routes.length);
  const requests: FuzzRequest[] = [];
  routes.forEach((route, index) => {
    requests.push(...fc.sample(requestArbitrary(route, options.credentials), { numRuns: perRouteCount, seed: (options.seed ?? 1) + index }));
  });
  // Shuffle (seeded) so that concurrent requests mix routes.
  const random = seededRandom(options.seed ?? 1);
  for (let i = requests.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [requests[i], requests[j]] = [requests[j]!, requests[i]!];
  }

  const report: FuzzReport = {
    service: options.service,
    routes: routes.length,
    requests: 0,
    statuses: {},
    serverErrors: 0,
    envelopeViolations: 0,
    missingRequestId: 0,
    missingCors: 0,
    transportErrors: 0,
    findings: [],
    groups: [],
    perRoute: {},
    durationMs: 0,
  };
  const keep = options.keepFindings ?? 20;
  const kept: Record<string, number> = {};
  const groups = new Map<string, FuzzReport['groups'][number]>();
  const note = (request: FuzzRequest, status: number, problem: string, text: string) => {
    const kind = `${status >= 500 ? '5xx' : problem}`;
    const groupKey = `${request.route}|${status}|${problem}`;
    const group = groups.get(groupKey);
    if (group) group.count += 1;
    kept[kind] = (kept[kind] ?? 0) + 1;
    const finding: Finding = {
      route: request.route,
      request: {
        method: request.method,
        path: request.path.slice(0, 200),
        contentType: request.headers['content-type'],
        bodyPreview: request.body?.slice(0, 200),
      },
      status,
      problem,
      bodyPreview: text.slice(0, 300),
    };
    if (!group) groups.set(groupKey, { route: request.route, status, problem, count: 1, example: finding });
    if (kept[kind]! <= keep) report.findings.push(finding);
  };

  const pool = new Pool(options.baseUrl, { connections: options.concurrency ?? 16, keepAliveTimeout: 10_000, headersTimeout: 30_000, bodyTimeout: 30_000 });
  let next = 0;
  const worker = async () => {
    while (next < requests.length) {
      const request = requests[next++]!;
      const route = (report.perRoute[request.route] ??= { requests: 0, statuses: {} });
      let status = 0;
      let text = '';
      try {
        const response = await pool.request({
          method: request.method as 'GET',
          path: request.path,
          headers: request.headers,
          body: request.body,
        });
        status = response.statusCode;
        text = await response.body.text();
        if (!response.headers['x-request-id']) report.missingRequestId += 1;
        if (response.headers['access-control-allow-origin'] !== FUZZ_ORIGIN) report.missingCors += 1;
      } catch (error) {
        report.transportErrors += 1;
        note(request, 0, `no answer: ${(error as Error).message}`, '');
      }
      report.requests += 1;
      route.requests += 1;
      report.statuses[status] = (report.statuses[status] ?? 0) + 1;
      route.statuses[status] = (route.statuses[status] ?? 0) + 1;
      if (status === 0) continue;
      const pathOnly = request.path.split('?')[0]!;
      // /health/ready may legitimately answer 503 when a dependency is down; it is still an envelope.
      if (status >= 500 && !(status === 503 && pathOnly.startsWith('/health'))) {
        report.serverErrors += 1;
        note(request, status, 'server error', text);
      }
      const problem = envelopeProblem(status, text, pathOnly);
      if (problem) {
        report.envelopeViolations += 1;
        note(request, status, problem, text);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 16 }, worker));
  await pool.close();
  report.groups = [...groups.values()].sort((a, b) => b.count - a.count);
  report.durationMs = Date.now() - started;
  return report;
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

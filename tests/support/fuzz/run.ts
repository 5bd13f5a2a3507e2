/**
 * The fuzzer: malformed requests (./requests.ts) spread evenly over every route a service documents; every answer
 * must be < 500 and in the contract's envelope, `{success: false, message, errors: [{field, message}]}` for errors.
 */
import fc from 'fast-check';
import { Pool } from 'undici';
import type { Cluster } from '../cluster.ts';
import { registrationBody, runTag } from '../registrations.ts';
import { seededRandom } from '../seeded-random.ts';
import { fetchOpenApi, routesOf } from './openapi.ts';
import { credentialSets, FUZZ_ORIGIN, requestArbitrary, type Credentials, type FuzzRequest } from './requests.ts';

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

/** Sends `requests` malformed requests spread evenly over every documented route and checks each answer. */
async function fuzzService(options: FuzzOptions): Promise<FuzzReport> {
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
    if (kept[kind] <= keep) report.findings.push(finding);
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
          method: request.method,
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

/** A customer's access token (registers one). */
async function customerToken(cluster: Cluster): Promise<string | undefined> {
  if (!cluster.athsHttp) return undefined;
  const response = await cluster.athsHttp.json<{ data?: { accessToken?: string } }>(
    'POST',
    '/api/auth/register',
    registrationBody(runTag('fuzzcust'), 1),
  );
  return response.body?.data?.accessToken;
}

/**
 * Fuzzes CRMS and (when running) ATHS of a cluster with `perService` requests each, most with valid API keys and an
 * administrator's or a customer's token so that they reach validation and the handlers.
 */
export async function fuzzCluster(cluster: Cluster, perService: number, seed = 20_260_126): Promise<FuzzReport[]> {
  const tokens: string[] = [];
  if (cluster.aths) {
    tokens.push(await cluster.adminToken());
    const customer = await customerToken(cluster);
    if (customer) tokens.push(customer);
  }
  // Both services at once (each fuzzer keeps 16 requests in flight).
  const runs = [fuzzService({ service: 'CRMS', baseUrl: cluster.crms.url, credentials: credentialSets(cluster.crmsKey, tokens), requests: perService, seed })];
  if (cluster.aths) {
    runs.push(
      fuzzService({ service: 'ATHS', baseUrl: cluster.aths.url, credentials: credentialSets(cluster.athsKey, tokens), requests: perService, seed: seed + 1 }),
    );
  }
  return Promise.all(runs);
}

import Fastify, { type FastifyInstance, type onRequestHookHandler } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';
import { prependOnRequest } from './app.ts';

type Headers = ReadonlyArray<readonly [string, string]>;

/**
 * helmet set for answers that are never documents (OWASP's REST Security Cheat Sheet): no framing, no content, no
 * cross-origin embedding, HTTPS only, no sniffing. The document-only headers are left to /docs (docs/browser-apps.md, "Security headers").
 */
const API_OPTIONS: HelmetOptions = {
  contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
  crossOriginOpenerPolicy: false,
  originAgentCluster: false,
  referrerPolicy: false,
  xDnsPrefetchControl: false,
  xDownloadOptions: false,
  xFrameOptions: { action: 'deny' },
  xPermittedCrossDomainPolicies: false,
  xXssProtection: false,
};
/** Answers carry tokens and personal data: no cache keeps them (RFC 6749 §5.1 for tokens). A route may say otherwise. */
const NO_STORE: Headers = [['cache-control', 'no-store']];
/** The routes that serve documents (Swagger UI): helmet's defaults, swagger-ui's own CSP still winning. */
const DOCUMENT_ROUTES = /^\/docs(\/|$)/;

export interface SecurityHeaders {
  /** Every answer, including those Node's HTTP parser makes before Fastify sees a request. */
  api: Headers;
  /** Added on the document routes. */
  documents: Headers;
}

/** The headers set on each answer, in one `reply.headers` call each, computed once (`securityHeaders`). */
export function installSecurityHeaders(app: FastifyInstance, headers: SecurityHeaders): void {
  const api = Object.fromEntries(headers.api);
  const documents = Object.fromEntries(headers.documents);
  app.addHook('onRequest', (_request, reply, done) => {
    void reply.headers(api);
    done();
  });
  const setDocumentHeaders: onRequestHookHandler = (_request, reply, done) => {
    void reply.headers(documents);
    done();
  };
  app.addHook('onRoute', (route) => {
    if (DOCUMENT_ROUTES.test(route.url)) prependOnRequest(route, setDocumentHeaders);
  });
}

const NOT_HELMETS = new Set(['content-type', 'content-length', 'date', 'connection', 'keep-alive']);
let computed: Promise<SecurityHeaders> | undefined;

/**
 * The headers depend on nothing in the request, so helmet runs once, as it documents without Express
 * (helmetjs.github.io/faq/use-without-express), on a probe app, instead of its 13 middlewares per request.
 */
export function securityHeaders(): Promise<SecurityHeaders> {
  computed ??= (async () => ({
    api: [...NO_STORE, ...(await helmetHeaders(API_OPTIONS))],
    documents: await helmetHeaders({}),
  }))();
  return computed;
}

async function helmetHeaders(options: HelmetOptions): Promise<Headers> {
  const probe = Fastify();
  const runHelmet = helmet(options);
  probe.addHook('onRequest', (request, reply, done) => runHelmet(request.raw, reply.raw, (error) => done(error as Error | undefined)));
  probe.get('/', async () => '');
  const { headers } = await probe.inject({ method: 'GET', url: '/' });
  await probe.close();
  return Object.entries(headers)
    .filter(([name]) => !NOT_HELMETS.has(name))
    .map(([name, value]) => [name, String(value)] as const);
}

import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { BaseConfig } from '../config.ts';
import { keyMatcher } from './api-key-guard.ts';
import { bearerTokenOf } from './bearer-guard.ts';
import { HttpError } from './envelope.ts';

/** Who may read the operations endpoints: `/metrics` and `/docs` (Swagger UI and `/docs/json`). */
export interface OperationsAccess {
  /** Bearer tokens `/metrics` accepts (several during a rotation); empty: `/metrics` is open. */
  metricsTokens: readonly string[];
  /** Whether `/docs` is served at all. */
  docs: boolean;
}

/** From METRICS_TOKEN and EXPOSE_DOCS: docs are served unless production, metrics open unless a token is set. */
export function operationsAccess(config: Pick<BaseConfig, 'NODE_ENV' | 'METRICS_TOKEN' | 'EXPOSE_DOCS'>): OperationsAccess {
  return { metricsTokens: config.METRICS_TOKEN, docs: config.EXPOSE_DOCS ?? config.NODE_ENV !== 'production' };
}

const metricsTokenRequired = () =>
  new HttpError(401, 'Metrics token required', [
    { field: 'authorization', message: 'Send an Authorization: Bearer <METRICS_TOKEN> header' },
  ]);

/** onRequest hook of `/metrics`: a 401 in the envelope (with `WWW-Authenticate: Bearer`) unless a token matches. */
export function metricsGuard(tokens: readonly string[]) {
  const matches = keyMatcher(tokens);
  return function checkMetricsToken(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const token = bearerTokenOf(request.headers.authorization);
    if (token !== undefined && matches(token)) return done();
    void reply.header('www-authenticate', 'Bearer realm="metrics"');
    done(metricsTokenRequired());
  };
}

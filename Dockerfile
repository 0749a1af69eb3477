# syntax=docker/dockerfile:1
# device-lifecycle application image: one image, one process per container (the API by default; the
# worker, the MDM emulator and the migration job override the command in docker-compose.yml).
# TypeScript runs through tsx, as in development: there is no build step, and tsx is a runtime dependency.

# Node 22: the active LTS line (Node 20 reached its end of life in April 2026).
ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS base
WORKDIR /app
# ca-certificates: TLS from the native Temporal client (Temporal Cloud) and to SMTP relays or a real MDM
RUN apt-get update \
  && apt-get install -y --no-install-recommends ca-certificates \
  && rm -rf /var/lib/apt/lists/*

# Production dependencies only, exactly as locked; test tooling (the Temporal test server, the SMTP sink,
# embedded PostgreSQL) is in devDependencies and never installed here. Install scripts are off: a
# compromised package cannot run code at build time. Only the two whose native binary the app loads run
# theirs afterwards (`npm rebuild` runs just their lifecycle scripts): esbuild (tsx) checks its platform
# binary, @swc/core (the worker's workflow bundler) checks its native binding.
FROM base AS prod-deps
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
  npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
  && npm rebuild esbuild @swc/core

FROM base AS runtime
# API_HOST: inside a container the API must listen beyond loopback (config/env.ts defaults to 127.0.0.1).
ENV NODE_ENV=production \
  API_HOST=0.0.0.0 \
  PORT=3000 \
  DATA_DIR=/app/.data \
  MDM_EMULATOR_DATA_DIR=/data/mdm
COPY --from=prod-deps /app/node_modules ./node_modules
COPY . .
# The code stays root-owned and read-only to the app; only these folders are writable. A named volume
# mounted on /data/mdm takes this ownership when Docker creates it.
RUN mkdir -p /app/.data /data/mdm && chown node:node /app/.data /data/mdm
USER node
EXPOSE 3000
# tsx is loaded in-process rather than through npx, so SIGTERM reaches the process that drains work.
CMD ["node", "--import", "tsx", "api/main.ts"]

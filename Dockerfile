# syntax=docker/dockerfile:1
# The Sora bot in a container. scripts/container-check.ts runs these same
# steps without Docker (CI has no Docker engine); keep the two in step.

# --- build: dev dependencies, compile, then drop to production dependencies ---
FROM node:20.20.2-bookworm-slim AS build
# better-sqlite3 compiles its native module when no prebuilt binary fits.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# node-gyp builds against this image's own Node headers instead of downloading
# them, on every core (the SQLite amalgamation is most of the build time).
ENV npm_config_nodedir=/usr/local \
    JOBS=max
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY emulators ./emulators
COPY scripts ./scripts
RUN npm run build
RUN npm prune --omit=dev --no-audit --no-fund

# --- run: production dependencies and the compiled bot, as the unprivileged node user ---
FROM node:20.20.2-bookworm-slim
ENV NODE_ENV=production \
    DATABASE_PATH=/data/sora-bot.db \
    METRICS_PORT=9464
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/scripts/backup.js ./dist/scripts/backup.js
# The database, its temp folder and the members' reference images all live on the volume.
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.METRICS_PORT || '9464') + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The bot stops on SIGTERM within 15 s (src/index.ts); compose.yaml gives it 20.
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/index.js"]

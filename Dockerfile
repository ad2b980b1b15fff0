# syntax=docker/dockerfile:1
# Runs the service against DATABASE_URL. .ci/check-artifact.ts repeats these
# steps without Docker (no engine runs on CI machines).

FROM oven/bun:1.4.5-slim AS deps
WORKDIR /app
COPY package.json bun.lock ./
COPY patches ./patches
RUN bun install --frozen-lockfile --production --ignore-scripts

FROM oven/bun:1.4.5-slim
WORKDIR /app
ENV NODE_ENV=production \
    PORT=8000 \
    DATA_DIR=/app/.data
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY drizzle ./drizzle
COPY src ./src
# Embedded mode (no DATABASE_URL) needs a writable data folder; the image runs as the unprivileged "bun" user.
RUN mkdir -p /app/.data && chown bun:bun /app/.data
USER bun
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["bun", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8000) + '/health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# bun itself is PID 1 here and receives SIGTERM directly (drain, close pool, exit 0).
CMD ["bun", "src/index.ts"]

# syntax=docker/dockerfile:1
# Build stage: compile TypeScript with the dev dependencies.
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY demo ./demo
COPY bench ./bench
RUN npm run build

# Runtime stage: production dependencies and compiled code only, as a non-root user.
FROM node:24-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY config ./config
USER node
EXPOSE 8080 9090
# The health check asks the admin listener from inside the container.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:9090/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "dist/src/cli.js"]
# The production configuration: no memory fallback, no generated key; it needs PUBLIC_ORIGIN,
# REDIS_URL, LOGIN_VERIFY_URL, signing keys in /run/secrets/gateway-keys and the admin credential in
# /run/secrets/gateway-admin-token (docs/operations.md#deploying).
CMD ["start", "--config", "/app/config/production.yaml"]

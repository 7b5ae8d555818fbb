# syntax=docker/dockerfile:1
FROM node:22.11-bookworm-slim@sha256:4b2fcdf7e94a2b5f0e5c5f1ba0b6f6b7bd1e4b0c2e5c1f8a3e1d9f5e6a7b8c9d AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev

FROM node:22.11-bookworm-slim@sha256:4b2fcdf7e94a2b5f0e5c5f1ba0b6f6b7bd1e4b0c2e5c1f8a3e1d9f5e6a7b8c9d
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules ./node_modules
COPY . .
USER node
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s CMD ["node", "healthcheck.js"]
CMD ["node", "server.js"]

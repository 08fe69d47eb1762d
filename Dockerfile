# syntax=docker/dockerfile:1
# The orchestrator image. Runs the API (migrations first) by default; the worker service runs the
# same image with `node dist/apps/worker/src/main.js`.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# npm install, not npm ci: see the README (the lock lacks other platforms' optional builds).
RUN npm install --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
# git: sessions' worktrees, commits, diffs and merges (GitPort runs the git binary).
# util-linux: setpriv, so that a managed OpenCode server dies with its process even when that one is
# SIGKILLed (this image has no bubblewrap). Essential in Debian, so already in the base: named so it stays.
RUN apt-get update \
  && apt-get install -y --no-install-recommends git ca-certificates util-linux \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Writable only where the process writes: DATA_DIR (a managed OpenCode's home) and the workspaces.
RUN mkdir -p /app/.orchestrator /workspaces && chown node:node /app/.orchestrator /workspaces
USER node
EXPOSE 3000
CMD ["node", "dist/apps/api/src/main.js"]

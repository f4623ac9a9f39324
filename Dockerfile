# syntax=docker/dockerfile:1
# Multi-stage: the build stage installs everything and type-checks; the runtime stage keeps production
# dependencies only. Node 24 runs the TypeScript sources directly (type stripping), so there is no emit.

FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY jobs ./jobs
COPY sql ./sql
COPY test ./test
RUN npx tsc -p . && npm prune --omit=dev

FROM node:24-slim
ENV NODE_ENV=production PORT=8080 CAMPAIGN_DATA_DIR=/data
WORKDIR /app
RUN groupadd --system campaign && useradd --system --gid campaign --home /app campaign \
  && mkdir -p /data && chown campaign:campaign /data
COPY --from=build --chown=campaign:campaign /app/node_modules ./node_modules
COPY --chown=campaign:campaign package.json ./
COPY --chown=campaign:campaign bin ./bin
COPY --chown=campaign:campaign src ./src
COPY --chown=campaign:campaign jobs ./jobs
COPY --chown=campaign:campaign sql ./sql
USER campaign
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "bin/campaign.js"]
CMD ["worker"]

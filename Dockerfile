# One image per service: docker build --build-arg SERVICE=purchase-service -t flash-sale-purchase-service .
# The default (last) stage is production: the service compiled to one JavaScript file (npm run build), npm production
# dependencies only, non-root, read-only root filesystem friendly. `--target dev` runs the TypeScript through tsx
# instead, for skaffold dev's file sync (tsx's cache goes to /tmp, an emptyDir in the chart).
# Node 24 (Krypton), the LTS line, minor pinned like the other images; local runs need only Node ≥ 20.19 (package.json).
ARG NODE_IMAGE=node:24.21-alpine

FROM ${NODE_IMAGE} AS sources
WORKDIR /app
COPY package.json package-lock.json tsconfig.base.json ./
COPY packages ./packages
COPY services ./services

FROM sources AS build
RUN npm ci --ignore-scripts --no-audit --no-fund && npm run build

# Only this service's production dependencies (test/production-layout.test.ts builds the same layout and starts it).
FROM sources AS dependencies
ARG SERVICE
RUN npm ci --omit=dev --workspace services/${SERVICE} --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ARG SERVICE
RUN test -n "${SERVICE}" || (echo "build with --build-arg SERVICE=<name>-service" && exit 1)
ENV NODE_ENV=production SERVICE=${SERVICE}
WORKDIR /app
EXPOSE 3000

FROM runtime AS dev
COPY --from=build /app/node_modules ./node_modules
COPY package.json tsconfig.base.json ./
COPY packages ./packages
COPY services/${SERVICE} ./services/${SERVICE}
USER 10001:10001
CMD ["sh", "-c", "exec node ${NODE_WATCH:+--watch} --import tsx services/${SERVICE}/src/main.ts"]

FROM runtime AS production
COPY --from=dependencies /app/node_modules ./node_modules
COPY --from=build /app/dist/${SERVICE} ./dist/${SERVICE}
USER 10001:10001
# Without --enable-source-maps: Node would load the source maps of every module that has one (TypeORM's carry their
# TypeScript sources), ~40 MiB of RSS per service, and map every stack it formats. Stacks name dist/<service>/main.js
# (not minified; its map lies beside it for `node --enable-source-maps` when one wants TypeScript lines).
CMD ["sh", "-c", "exec node dist/${SERVICE}/main.js"]

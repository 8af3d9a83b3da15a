# One image per service: docker build --build-arg SERVICE=purchase-service -t flash-sale-purchase-service .
# Multi-stage: production dependencies only, TypeScript run by tsx, non-root, works with a read-only root filesystem
# (tsx's cache goes to /tmp, an emptyDir in the chart).
ARG NODE_IMAGE=node:20.19-alpine

FROM ${NODE_IMAGE} AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages ./packages
COPY services ./services
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE}
ARG SERVICE
RUN test -n "${SERVICE}" || (echo "build with --build-arg SERVICE=<name>-service" && exit 1)
ENV NODE_ENV=production SERVICE=${SERVICE}
WORKDIR /app
COPY --from=dependencies /app/node_modules ./node_modules
COPY package.json tsconfig.base.json ./
COPY packages ./packages
COPY services/${SERVICE} ./services/${SERVICE}
USER 10001:10001
EXPOSE 3000
CMD ["sh", "-c", "exec node ${NODE_WATCH:+--watch} --import tsx services/${SERVICE}/src/main.ts"]

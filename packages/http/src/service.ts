import express, { type Express, type Request, type RequestHandler, type Router } from 'express';
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { leanRoutesOf, matchLean, serveLean } from './lean';
import { createLogger, logAnswered } from './logging';
import { createMetrics, type Metrics } from './metrics';
import { notFoundHandler, problemHandler, requireAppToken } from './problem';
import { generateDocument, operationalRoutes, type OpenAPIRegistry, type OpenApiDocument } from './openapi';

export type ReadinessCheck = () => Promise<unknown>;

export interface ServiceDefinition {
  /** The Dapr app id, also the service's name in logs and metrics. */
  name: string;
  logLevel: string;
  /** Routers mounted at the root: each declares full paths, so the route list matches the OpenAPI paths. */
  routers: Router[];
  docs: OpenAPIRegistry;
  /** Named checks behind /readyz, e.g. database and sidecar. */
  readiness: Record<string, ReadinessCheck>;
  metrics?: Metrics;
  logger?: Logger;
  /** Routes only the Dapr sidecar may call (invocation-only, events, bindings): they require its app token. */
  daprOnly?: { paths: string[]; appToken: string };
  /** Proxies whose X-Forwarded-For names the client (TRUSTED_PROXIES); default loopback, the local edge. */
  trustedProxies?: string;
}

export interface BuiltService {
  app: Express;
  /** What the HTTP server runs: the lean routes (lean.ts), and express for everything else. */
  handler: RequestListener;
  logger: Logger;
  metrics: Metrics;
  document: OpenApiDocument;
}

const READINESS_TIMEOUT_MS = 2000;

/** Probes and scrapes: metered, not logged. */
const UNLOGGED = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * One `finish` listener per request records what its answer leaves behind: its duration metric (`route` as matched,
 * read when it is answered) and its log line.
 */
function observe(logger: Logger, metrics: Metrics, req: IncomingMessage, res: ServerResponse, route: () => string): void {
  req.log = logger;
  const began = performance.now();
  const logged = !UNLOGGED.has(req.url ?? '');
  res.on('finish', () => {
    const ms = performance.now() - began;
    metrics.answered(req.method ?? '', route(), res.statusCode, ms / 1000);
    if (logged) logAnswered(logger, req, res.statusCode, ms);
  });
}

/** The client's address: from X-Forwarded-For when the request came through trusted proxies, else the peer's. */
export const clientAddress = (req: Request): string => req.ip ?? req.socket.remoteAddress ?? 'unknown';

async function runCheck(check: ReadinessCheck): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${READINESS_TIMEOUT_MS} ms`)), READINESS_TIMEOUT_MS);
  });
  try {
    await Promise.race([check(), timeout]);
    return 'ok';
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    clearTimeout(timer);
  }
}

export function buildService(def: ServiceDefinition): BuiltService {
  const logger = def.logger ?? createLogger(def.name, def.logLevel);
  const metrics = def.metrics ?? createMetrics(def.name);

  const app = express();
  app.disable('x-powered-by');
  // The client address comes from X-Forwarded-For only through proxies the operator declared: any other peer could
  // name itself a fresh address per request and walk past every per-address limit.
  app.set('trust proxy', def.trustedProxies ?? 'loopback');
  // Only the pages the crowd refreshes carry an ETag (sendPage): hashing every answer, refusals included, for a tag no
  // client sends back cost more than the rest of a 401.
  app.set('etag', false);
  app.use((req, res, next) => {
    observe(logger, metrics, req, res, () => (req.route?.path ? `${req.baseUrl}${req.route.path}` : 'unmatched'));
    next();
  });
  // Dapr delivers events as application/cloudevents+json.
  app.use(express.json({ limit: '100kb', type: ['application/json', 'application/*+json'] }));

  const ready: RequestHandler = async (_req, res) => {
    const names = Object.keys(def.readiness);
    const results = await Promise.all(names.map((name) => runCheck(def.readiness[name]!)));
    const checks = Object.fromEntries(names.map((name, i) => [name, results[i]!]));
    const allReady = results.every((r) => r === 'ok');
    res.status(allReady ? 200 : 503).json({ status: allReady ? 'ready' : 'not-ready', checks });
  };
  const metricsText: RequestHandler = async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  };
  const operations = operationalRoutes(def.docs, ready, metricsText, () => document);
  const document = generateDocument(def.docs, def.name);
  app.use(operations);
  if (def.daprOnly) app.use(def.daprOnly.paths, requireAppToken(def.daprOnly.appToken));
  for (const router of def.routers) app.use(router);
  app.use(notFoundHandler);
  app.use(problemHandler);

  const lean = leanRoutesOf(def.routers);
  const handler: RequestListener = (req, res) => {
    const found = lean.length ? matchLean(lean, req) : undefined;
    if (!found) return app(req, res);
    observe(logger, metrics, req, res, () => found.route.route);
    serveLean(found.route, found.params, req, res);
  };
  return { app, handler, logger, metrics, document };
}

export interface RunningService {
  server: Server;
  port: number;
  stop(): Promise<void>;
}

/** Connections waiting to be accepted, at most (the kernel caps it at net.core.somaxconn). */
export const LISTEN_BACKLOG = 4096;
/** Longer than any of our callers keeps an idle connection (nginx ingress: 60 s). */
const KEEP_ALIVE_MS = 65_000;

/** Listens, and on SIGTERM/SIGINT stops taking requests, lets in-flight ones finish, then runs the closers. */
export async function listen(
  built: BuiltService,
  port: number,
  closers: (() => Promise<unknown>)[] = [],
  graceMs = 10_000,
  host = '127.0.0.1',
): Promise<RunningService> {
  const server = await new Promise<Server>((resolve, reject) => {
    // A sale opens with thousands of connections in the same second: a short accept queue (Node's default is 511)
    // overflows while the process is busy, and the kernel then resets connections the clients think are open.
    const s = createServer(built.handler).listen({ port, host, backlog: LISTEN_BACKLOG }, () => resolve(s)).on('error', reject);
  });
  // Callers keep connections open (the edge's and the ingress's keep-alive pools, Dapr): the server must outlast their
  // idle timeout, or it closes a socket just as a request is sent on it and the caller sees ECONNRESET.
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  server.headersTimeout = KEEP_ALIVE_MS + 1000;
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      const forced = setTimeout(() => server.closeAllConnections(), graceMs).unref();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      clearTimeout(forced);
      for (const close of closers) await close();
    })());
  built.logger.info({ port: actualPort }, 'listening');
  return { server, port: actualPort, stop };
}

/** For main.ts: handles the process signals and exits when the service has stopped. */
export function exitOnSignals(running: RunningService, logger: Logger): void {
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'shutting down');
    running.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}

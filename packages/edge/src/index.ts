import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import express from 'express';
import { AppError, notFoundHandler, PROBLEM_CONTENT_TYPE, problemHandler, toProblem } from '@flash/http';
import table from '../routes.json';

export interface Route {
  prefix: string;
  service: string;
}

export const routes: Route[] = table.routes;

/** Whether `path` falls under `prefix` as a whole segment (/api/users matches /api/users/me, not /api/usersx). */
export function matches(prefix: string, path: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`) || path.startsWith(`${prefix}?`);
}

const longestFirst = [...routes].sort((a, b) => b.prefix.length - a.prefix.length);

export function routeFor(path: string): Route | undefined {
  return longestFirst.find((r) => matches(r.prefix, path));
}

/** A replica that refused a connection gets no requests for this long (a passive health check, as the ingress does). */
const REPLICA_DOWN_MS = 1000;

/**
 * Spreads requests over a service's replicas in turn, skipping one that just refused a connection; when all did,
 * tries them anyway.
 */
class Replicas {
  private next = 0;
  private readonly downUntil: number[];
  private readonly urls: URL[];

  constructor(targets: string[]) {
    this.urls = targets.map((t) => new URL(t));
    this.downUntil = targets.map(() => 0);
  }

  pick(now = Date.now()): URL {
    for (let tried = 0; tried < this.urls.length; tried++) {
      const i = this.next++ % this.urls.length;
      if (this.downUntil[i]! <= now) return this.urls[i]!;
    }
    return this.urls[this.next++ % this.urls.length]!;
  }

  down(target: URL, now = Date.now()): void {
    const i = this.urls.indexOf(target);
    if (i >= 0) this.downUntil[i] = now + REPLICA_DOWN_MS;
  }
}

/** Headers that belong to one connection, not to the request or answer: never passed on (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);
const UPSTREAM_TIMEOUT_MS = 30_000;

/**
 * The local stand-in for the ingress: same table, same pass-through paths, straight to each service's app port
 * (several replicas of a service take turns). A routed request is forwarded with node:http on kept-alive connections,
 * nothing in between (the hop should cost little next to the service); express answers only what is not routed, with
 * the same problem bodies as the services.
 */
export function createEdge(targets: Record<string, string | string[]>): Server {
  // Connections to the services are kept open and reused: a new TCP connection per request costs more than the proxying.
  const agent = new Agent({ keepAlive: true, maxSockets: 512, maxFreeSockets: 256 });
  const replicas = new Map(Object.entries(targets).map(([service, target]) => [service, new Replicas([target].flat())]));
  const unrouted = express();
  unrouted.disable('x-powered-by');
  unrouted.use((req, _res, next) => {
    const route = routeFor(req.path);
    next(route ? AppError.unavailable(`${route.service} is not part of this stack.`) : undefined);
  });
  unrouted.use(notFoundHandler);
  unrouted.use(problemHandler);
  return createServer((req, res) => {
    const route = routeFor(pathOf(req.url ?? '/'));
    const service = route && replicas.get(route.service);
    if (!service) return unrouted(req, res);
    forward(req, res, service, route.service, agent);
  });
}

/** Sends the request to one replica and its answer back, with the X-Forwarded-* headers an ingress adds. */
function forward(req: IncomingMessage, res: ServerResponse, replicas: Replicas, service: string, agent: Agent): void {
  const target = replicas.pick();
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(req.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
  const peer = req.socket.remoteAddress ?? '';
  headers['x-forwarded-for'] = req.headers['x-forwarded-for'] ? `${String(req.headers['x-forwarded-for'])}, ${peer}` : peer;
  headers['x-forwarded-proto'] = 'http';
  if (req.headers.host) headers['x-forwarded-host'] = req.headers.host;
  headers['x-forwarded-port'] = String(req.socket.localPort ?? '');
  const upstream = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent, timeout: UPSTREAM_TIMEOUT_MS }, (answer) => {
    const answerHeaders: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(answer.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) answerHeaders[name] = value;
    res.writeHead(answer.statusCode ?? 502, answer.statusMessage, answerHeaders);
    answer.pipe(res);
  });
  upstream.on('timeout', () => upstream.destroy(Object.assign(new Error('upstream timed out'), { code: 'ETIMEDOUT' })));
  upstream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'ECONNREFUSED') replicas.down(target);
    unavailable(res, req, service);
  });
  // The client went away: stop the upstream request too.
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.pipe(upstream);
}

/** The service did not answer (down, restarting): a 503 problem the client retries after Retry-After, as the API says. */
function unavailable(res: ServerResponse, req: IncomingMessage, service: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const problem = AppError.unavailable(`${service} did not answer; retry the same request (with the same Idempotency-Key).`);
  res.writeHead(problem.status, { 'content-type': PROBLEM_CONTENT_TYPE, ...problem.headers });
  res.end(JSON.stringify(toProblem(problem, req.url)));
}

const pathOf = (url: string) => {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
};

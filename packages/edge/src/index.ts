import { Agent, createServer, ServerResponse, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import express from 'express';
import { createProxyMiddleware } from 'http-proxy-middleware';
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

  constructor(readonly targets: string[]) {
    this.downUntil = targets.map(() => 0);
  }

  pick(now = Date.now()): string {
    for (let tried = 0; tried < this.targets.length; tried++) {
      const i = this.next++ % this.targets.length;
      if (this.downUntil[i]! <= now) return this.targets[i]!;
    }
    return this.targets[this.next++ % this.targets.length]!;
  }

  down(target: string, now = Date.now()): void {
    const host = new URL(target).host;
    const i = this.targets.findIndex((t) => new URL(t).host === host);
    if (i >= 0) this.downUntil[i] = now + REPLICA_DOWN_MS;
  }
}

/**
 * The local stand-in for the ingress: same table, same pass-through paths, straight to each service's app port
 * (several replicas of a service take turns). A routed request goes to its proxy without express in between (the hop
 * should cost little next to the service); express answers only what is not routed, with the same problem bodies as
 * the services.
 */
export function createEdge(targets: Record<string, string | string[]>): Server {
  // Connections to the services are kept open and reused: a new TCP connection per request costs more than the proxying.
  const agent = new Agent({ keepAlive: true, maxSockets: 512, maxFreeSockets: 256 });
  const proxies = new Map(
    Object.entries(targets).map(([service, target]) => {
      const replicas = new Replicas([target].flat());
      return [service, createProxyMiddleware<IncomingMessage, ServerResponse>({
        target: replicas.targets[0], router: () => replicas.pick(), agent, changeOrigin: false, xfwd: true, proxyTimeout: 30_000,
        on: {
          error: (err, req, res) => {
            const target = (req as IncomingMessage & { edgeTarget?: string }).edgeTarget;
            if ((err as NodeJS.ErrnoException).code === 'ECONNREFUSED' && target) replicas.down(target);
            unavailable(res, req, service);
          },
          proxyReq: (_proxyReq, req, _res, options) => {
            (req as IncomingMessage & { edgeTarget?: string }).edgeTarget = String(options.target);
          },
        },
      })];
    }),
  );
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
    const proxy = route && proxies.get(route.service);
    if (!proxy) return unrouted(req, res);
    void proxy(req, res, () => unrouted(req, res));
  });
}

/** The service did not answer (down, restarting): a 503 problem the client retries after Retry-After, as the API says. */
function unavailable(res: ServerResponse | Socket, req: IncomingMessage, service: string): void {
  if (!(res instanceof ServerResponse) || res.headersSent) {
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

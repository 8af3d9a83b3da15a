import { Agent, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import express from 'express';
import { createProxyMiddleware } from 'http-proxy-middleware';
import { AppError, notFoundHandler, problemHandler } from '@flash/http';
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

/**
 * The local stand-in for the ingress: same table, same pass-through paths, straight to each service's app port.
 * A routed request goes to its proxy without express in between (the hop should cost little next to the service);
 * express answers only what is not routed, with the same problem bodies as the services.
 */
export function createEdge(targets: Record<string, string>): Server {
  // Connections to the services are kept open and reused: a new TCP connection per request costs more than the proxying.
  const agent = new Agent({ keepAlive: true, maxSockets: 512, maxFreeSockets: 256 });
  const proxies = new Map(
    Object.entries(targets).map(([service, target]) => [
      service,
      createProxyMiddleware<IncomingMessage, ServerResponse>({ target, agent, changeOrigin: false, xfwd: true, proxyTimeout: 30_000 }),
    ]),
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

const pathOf = (url: string) => {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
};

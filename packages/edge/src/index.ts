import express, { type Express } from 'express';
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

export function routeFor(path: string): Route | undefined {
  return [...routes].sort((a, b) => b.prefix.length - a.prefix.length).find((r) => matches(r.prefix, path));
}

/** The local stand-in for the ingress: same table, same pass-through paths, straight to each service's app port. */
export function createEdge(targets: Record<string, string>): Express {
  const app = express();
  app.disable('x-powered-by');
  const proxies = new Map(
    Object.entries(targets).map(([service, target]) => [
      service,
      createProxyMiddleware({ target, changeOrigin: false, xfwd: true, proxyTimeout: 30_000 }),
    ]),
  );
  app.use((req, res, next) => {
    const route = routeFor(req.path);
    if (!route) return next();
    const proxy = proxies.get(route.service);
    if (!proxy) return next(AppError.unavailable(`${route.service} is not part of this stack.`));
    return proxy(req, res, next);
  });
  app.use(notFoundHandler);
  app.use(problemHandler);
  return app;
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler, Router } from 'express';
import { AppError } from './errors';
import { answerOf, PROBLEM_CONTENT_TYPE, toProblem } from './problem';

/** What a lean route answers: a status and a JSON body; a refusal is thrown as an AppError (a problem body). */
export interface LeanAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** A lean route's handler: the request as Node's server gives it, and the path's parameters. */
export type LeanHandler = (req: IncomingMessage, params: Record<string, string>) => Promise<LeanAnswer>;

/**
 * A route the crowd hits in the opening second (a purchase attempt): Node's HTTP server hands it to its handler
 * without going through express, whose routing and request/response decoration cost more than a refusal itself
 * (~0.15 ms of CPU per request on our 2-core machine). It has no body to parse. The same handler is also mounted
 * on express, which serves the paths the lean match leaves to it (percent-escapes, a trailing slash, other case).
 */
export interface LeanRoute {
  method: string;
  /** The route as express names it, e.g. `/api/flash-sales/:id/purchases`: also its `route` label in metrics. */
  route: string;
  pattern: RegExp;
  names: string[];
  handle: LeanHandler;
}

const leanRoutes = new WeakMap<Router, LeanRoute[]>();

/** Declares a lean route of a router, from its OpenAPI-form path (`/api/flash-sales/{id}/purchases`). */
export function addLeanRoute(router: Router, method: string, path: string, handle: LeanHandler): RequestHandler {
  const names: string[] = [];
  // A plain segment only: no `%` (its decoding, and a broken escape's 400, are express's), no `/`.
  const pattern = new RegExp(`^${path.replace(/\{([A-Za-z0-9_]+)\}/g, (_, name: string) => (names.push(name), '([^/%?]+)'))}$`);
  const route = path.replace(/\{([A-Za-z0-9_]+)\}/g, ':$1');
  leanRoutes.set(router, [...(leanRoutes.get(router) ?? []), { method: method.toUpperCase(), route, pattern, names, handle }]);
  return (req, res, next) => {
    handle(req, req.params).then((answer) => send(res, answer)).catch(next);
  };
}

export const leanRoutesOf = (routers: Router[]): LeanRoute[] => routers.flatMap((router) => leanRoutes.get(router) ?? []);

/** The lean route this request is for, with its parameters, if any. */
export function matchLean(routes: LeanRoute[], req: IncomingMessage): { route: LeanRoute; params: Record<string, string> } | undefined {
  const url = req.url ?? '';
  const query = url.indexOf('?');
  const path = query < 0 ? url : url.slice(0, query);
  for (const route of routes) {
    if (route.method !== req.method) continue;
    const found = route.pattern.exec(path);
    if (!found) continue;
    const params: Record<string, string> = {};
    route.names.forEach((name, i) => (params[name] = found[i + 1]!));
    return { route, params };
  }
  return undefined;
}

/** Serves a matched lean route: its answer as JSON, or the problem its refusal (or failure) makes. */
export function serveLean(route: LeanRoute, params: Record<string, string>, req: IncomingMessage, res: ServerResponse): void {
  // Nothing is read from a body: let it flow past so the connection can carry the next request.
  req.resume();
  route.handle(req, params)
    .then((answer) => send(res, answer))
    .catch((err: unknown) => {
      // An answer that could not be written (a body JSON cannot hold) is a bug like any other: a 500, not a crash.
      if (res.headersSent) res.destroy();
      else sendProblem(res, answerOf(err, req.log), req.url);
    });
}

function send(res: ServerResponse, { status, body, headers }: LeanAnswer): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** A refusal the crowd meets thousands of times (no token, sold out) is one AppError: its body is written once. */
const problemHeads = new WeakMap<AppError, string>();

/** toProblem as JSON: the error's part kept per error, `instance` (the path) added per request. */
function problemText(error: AppError, instance?: string): string {
  if (error.errors || !instance) return JSON.stringify(toProblem(error, instance));
  let head = problemHeads.get(error);
  if (head === undefined) problemHeads.set(error, (head = JSON.stringify(toProblem(error)).slice(0, -1)));
  return `${head},"instance":${JSON.stringify(instance)}}`;
}

function sendProblem(res: ServerResponse, error: AppError, instance?: string): void {
  const text = problemText(error, instance);
  res.writeHead(error.status, { ...error.headers, 'content-type': `${PROBLEM_CONTENT_TYPE}; charset=utf-8`, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

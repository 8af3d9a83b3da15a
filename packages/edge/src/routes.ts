import table from '../routes.json';

export interface Route {
  prefix: string;
  service: string;
}

/** The one route table: the local edge and the Kubernetes ingress both route from it. */
export const routes: Route[] = table.routes;

/** Whether `path` falls under `prefix` as a whole segment (/api/users matches /api/users/me, not /api/usersx). */
export function matches(prefix: string, path: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`) || path.startsWith(`${prefix}?`);
}

/** The table in the order a request is matched: the longest prefix first. */
export const longestFirst = [...routes].sort((a, b) => b.prefix.length - a.prefix.length);

export function routeFor(path: string): Route | undefined {
  return longestFirst.find((r) => matches(r.prefix, path));
}

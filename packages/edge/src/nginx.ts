import { AppError, toProblem } from '@flash/http';
import { routes } from './routes';

/** Where a service's replicas answer: one URL, or several that take turns. */
export type Targets = Record<string, string | string[]>;

export interface EdgeConfig {
  host: string;
  port: number;
  targets: Targets;
  /** nginx's prefix: its configuration and pid file go here. */
  dir: string;
}

/** A replica that refused a connection gets no requests for this long (a passive health check, as the ingress does). */
const REPLICA_DOWN_SECONDS = 1;
const UPSTREAM_TIMEOUT_SECONDS = 30;
/** As ingress-nginx's default `proxy-body-size`. */
const MAX_BODY = '1m';

/** A JSON string as nginx reads it inside single quotes. */
const quoted = (body: unknown) => `'${JSON.stringify(body).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const problem = (error: AppError) => quoted(toProblem(error));
const upstreamName = (service: string) => service.replace(/[^a-z0-9]/gi, '_');

/**
 * The local edge: nginx, as the production ingress (ingress-nginx) is, routing the one table (routes.json) straight
 * to each service's app port. Paths pass through unchanged; connections to the services are kept alive; a
 * service's replicas take turns, and one that refuses a connection is skipped for a second (the request goes to the
 * next, which is safe: it was never sent). A service that does not answer becomes a 503 problem with Retry-After;
 * a path with no route a 404 problem, as the services' own.
 */
export function nginxConfig({ host, port, targets, dir }: EdgeConfig): string {
  const served = routes.filter((r) => targets[r.service]);
  const upstreams = [...new Set(served.map((r) => r.service))].map((service) => `
  upstream ${upstreamName(service)} {
${[targets[service]!].flat().map((t) => `    server ${new URL(t).host} max_fails=1 fail_timeout=${REPLICA_DOWN_SECONDS}s;`).join('\n')}
    keepalive 256;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
  }`).join('\n');
  // Exact prefix and everything under it as a whole segment (/api/users, /api/users/me; not /api/usersx).
  const locations = routes.map(({ prefix, service }) => {
    const body = targets[service]
      ? `proxy_pass http://${upstreamName(service)}; error_page 502 504 =503 @${upstreamName(service)}_unavailable;`
      : `return 503 ${problem(AppError.unavailable(`${service} is not part of this stack.`))};`;
    return `    location = ${prefix} { ${body} }\n    location ${prefix}/ { ${body} }`;
  }).join('\n');
  const unavailable = [...new Set(served.map((r) => r.service))].map((service) => `
    location @${upstreamName(service)}_unavailable {
      add_header Retry-After 1 always;
      return 503 ${problem(AppError.unavailable(`${service} did not answer; retry the same request (with the same Idempotency-Key).`))};
    }`).join('\n');
  return `# Written by @flash/edge from packages/edge/routes.json; regenerated at every start.
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log stderr error;
events {
  worker_connections 16384;
}
http {
  access_log off;
  server_tokens off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  client_max_body_size ${MAX_BODY};
  # Bodies and answers stay in memory, never in temporary files (as root, nginx's workers run as nobody).
  client_body_buffer_size ${MAX_BODY};
  proxy_max_temp_file_size 0;
  keepalive_timeout 75s;
  keepalive_requests 1000000;
  default_type application/problem+json;

  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_set_header Host $http_host;
  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
  proxy_set_header X-Forwarded-Proto $scheme;
  proxy_set_header X-Forwarded-Host $http_host;
  proxy_set_header X-Forwarded-Port $server_port;
  proxy_connect_timeout 5s;
  proxy_read_timeout ${UPSTREAM_TIMEOUT_SECONDS}s;
  proxy_send_timeout ${UPSTREAM_TIMEOUT_SECONDS}s;
  proxy_next_upstream error;
  proxy_redirect off;
${upstreams}

  server {
    listen ${host}:${port} backlog=4096;
${locations}
${unavailable}

    location / {
      return 404 ${problem(new AppError(404, 'ROUTE_NOT_FOUND', 'Not found', 'No route for this path.'))};
    }
  }
}
`;
}

import { AppError, PROBLEM_CONTENT_TYPE, toProblem } from '@flash/http';
import { longestFirst, routes } from './routes';

/** Where a service's replicas answer: one URL, or several that take turns. */
export type Targets = Record<string, string | string[]>;

export interface EdgeConfig {
  host: string;
  port: number;
  targets: Targets;
  /** The edge's own directory: its configuration and the answers it gives itself. */
  dir: string;
  /** Connections the edge takes at once, clients and services together (each client connection may hold a service connection). */
  maxConnections: number;
}

/**
 * How many requests a replica has in flight at most; the rest wait at the edge, in order. A crowd of thousands
 * opening connections to a service at once would overflow its accept queue (4,096 at most) and wait out SYN
 * retransmits (1 s, 3 s, 7 s). Each in-flight request holds a connection to the replica, kept alive and reused
 * afterwards: 2,048 left purchase-service with ~2,000 idle sockets (RSS 213–241 MiB in flash-spike) and sent a request
 * that found no free one through a new connection; 256 (measured: README, Performance) keeps the replica's event loop
 * busy with fewer sockets. A provider that stops answering holds one in-flight slot per payment for
 * PAYMENT_TIMEOUT_MS.
 */
export const MAX_IN_FLIGHT_PER_REPLICA = 256;
const UPSTREAM_TIMEOUT = '30s';

const backendName = (service: string) => `service_${service.replace(/[^a-z0-9]/gi, '_')}`;

/** A problem answer as HAProxy sends it from a file: the whole HTTP response. */
export function problemAnswer(error: AppError): string {
  const body = JSON.stringify(toProblem(error));
  const headers = { 'content-type': PROBLEM_CONTENT_TYPE, 'cache-control': 'no-cache', 'content-length': String(Buffer.byteLength(body)), ...error.headers };
  return [`HTTP/1.1 ${error.status} ${error.title}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), '', body].join('\r\n');
}

/** The answers the edge gives itself, by file name: written next to the configuration. */
export function edgeAnswers(targets: Targets): Record<string, string> {
  const answers: Record<string, string> = {
    'no-route.http': problemAnswer(new AppError(404, 'ROUTE_NOT_FOUND', 'Not found', 'No route for this path.')),
  };
  for (const service of new Set(routes.map((r) => r.service))) {
    answers[`${service}.http`] = problemAnswer(targets[service]
      ? AppError.unavailable(`${service} did not answer; retry the same request (with the same Idempotency-Key).`)
      : AppError.unavailable(`${service} is not part of this stack.`));
  }
  return answers;
}

/**
 * The local edge: HAProxy, routing the one table (routes.json) straight to each service's app port, as the ingress
 * does. Paths pass through unchanged. Connections to the services are kept alive and reused; at most
 * MAX_IN_FLIGHT_PER_REPLICA requests are in flight per replica and the rest queue here. A service's replicas take
 * turns; a request whose connection a replica refuses goes to the next (nothing was sent). No replica is ever marked
 * down: one that restarts is tried again at once (a health check would keep answering 503 for up to its interval
 * after the restart). A service that does not answer becomes a 503 problem with Retry-After, a path with no route a
 * 404 problem, as the services' own.
 */
export function haproxyConfig({ host, port, targets, dir, maxConnections }: EdgeConfig): string {
  const services = [...new Set(routes.map((r) => r.service))];
  const backends = services.map((service) => {
    const answer = `${dir}/${service}.http`;
    const servers = [targets[service] ?? []].flat().map((t, i) =>
      `  server r${i + 1} ${new URL(t).host} maxconn ${MAX_IN_FLIGHT_PER_REPLICA}`);
    return `backend ${backendName(service)}
  balance roundrobin
  errorfile 502 ${answer}
  errorfile 503 ${answer}
  errorfile 504 ${answer}
${servers.length ? servers.join('\n') : `  http-request return status 503 errorfile ${answer}`}`;
  }).join('\n\n');
  return `# Written by @flash/edge from packages/edge/routes.json; regenerated at every start.
global
  nbthread 1
  maxconn ${maxConnections}
  pidfile ${dir}/haproxy.pid
  # Keep idle connections to the services for reuse however many clients are connected: by default HAProxy stops
  # pooling them once a fifth of its file descriptors are in use (5,000 shoppers are), and then every client got a
  # connection of its own to the service, accepted and reset there (5,532 accepts in purchase-service per flash-spike).
  tune.pool-low-fd-ratio 90
  tune.pool-high-fd-ratio 95

defaults
  mode http
  timeout connect 5s
  timeout client 75s
  timeout http-request 10s
  timeout http-keep-alive 75s
  timeout server ${UPSTREAM_TIMEOUT}
  timeout queue ${UPSTREAM_TIMEOUT}
  option forwardfor
  http-reuse always
  retries 1
  option redispatch 1
  retry-on conn-failure

frontend edge
  bind ${host}:${port}
  maxconn ${maxConnections}
  http-request set-header X-Forwarded-Proto http
  http-request set-header X-Forwarded-Host %[req.hdr(host)] if { req.hdr(host) -m found }
  http-request set-header X-Forwarded-Port %[dst_port]
${longestFirst.map((r) => `  use_backend ${backendName(r.service)} if { path ${r.prefix} } || { path_beg ${r.prefix}/ }`).join('\n')}
  default_backend no_route

backend no_route
  http-request return status 404 errorfile ${dir}/no-route.http

${backends}
`;
}

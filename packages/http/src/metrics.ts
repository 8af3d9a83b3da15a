import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics(service: string) {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  const httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  /** One answered request in `http_request_duration_seconds` (`route` is the matched route's path, or `unmatched`). */
  const answered = (method: string, route: string, status: number, seconds: number) => {
    httpDuration.observe({ method, route, status }, seconds);
  };
  /** Business metrics register here, next to the HTTP ones. */
  const counter = (name: string, help: string, labelNames: string[] = []) =>
    new Counter({ name, help, labelNames, registers: [registry] });
  const histogram = (name: string, help: string, buckets: number[]) => new Histogram({ name, help, buckets, registers: [registry] });
  /** A gauge is 0 until set; `read`, if given, sets it from memory on every scrape (a scrape must not cost a query). */
  const gauge = (name: string, help: string, labelNames: string[] = [], read?: (gauge: Gauge) => void) =>
    new Gauge({ name, help, labelNames, registers: [registry], ...(read ? { collect() { read(this); } } : {}) });
  return { registry, answered, counter, histogram, gauge };
}

export type Metrics = ReturnType<typeof createMetrics>;

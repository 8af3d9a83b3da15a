// steady-browse: shoppers browse the catalog, product pages and flash sales at a steady pace.
import http from 'k6/http';
import { check } from 'k6';
import { Counter } from 'k6/metrics';

const BASE = __ENV.BASE;
const serverErrors = new Counter('server_errors');

export const options = {
  scenarios: {
    browse: { executor: 'constant-vus', vus: Number(__ENV.VUS ?? 50), duration: __ENV.DURATION ?? '30s' },
  },
  thresholds: {
    server_errors: ['count==0'],
    'http_req_duration{name:catalog page}': ['p(95)<200'],
    'http_req_duration{name:product page}': ['p(95)<200'],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(95)', 'p(99)', 'max', 'count'],
};

export default function () {
  const page = http.get(`${BASE}/api/products?page=1&size=20`, { tags: { name: 'catalog page' } });
  if (page.status >= 500) serverErrors.add(1);
  check(page, { 'catalog 200': (r) => r.status === 200 });
  const items = page.status === 200 ? page.json('items') : [];
  if (items.length) {
    const product = items[Math.floor(Math.random() * items.length)];
    const detail = http.get(`${BASE}/api/products/${product.id}`, { tags: { name: 'product page' } });
    if (detail.status >= 500) serverErrors.add(1);
  }
  const sales = http.get(`${BASE}/api/flash-sales`, { tags: { name: 'flash sales' } });
  if (sales.status >= 500) serverErrors.add(1);
}

export function handleSummary(data) {
  return { [__ENV.SUMMARY]: JSON.stringify(data) };
}

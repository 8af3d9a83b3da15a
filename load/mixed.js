// mixed: browsing, regular checkout and account actions together, as a normal shop day looks.
import http from 'k6/http';
import { SharedArray } from 'k6/data';
import { Counter, Trend } from 'k6/metrics';

const BASE = __ENV.BASE;
const PRODUCT = __ENV.PRODUCT;
const accounts = new SharedArray('accounts', () => JSON.parse(open(__ENV.ACCOUNTS)));
const serverErrors = new Counter('server_errors');
const checkout = new Trend('checkout', true);

export const options = {
  scenarios: {
    browse: { executor: 'constant-vus', vus: Number(__ENV.VUS ?? 20), duration: __ENV.DURATION ?? '30s', exec: 'browse' },
    buy: { executor: 'constant-vus', vus: Number(__ENV.BUYERS ?? 5), duration: __ENV.DURATION ?? '30s', exec: 'buy' },
    account: { executor: 'constant-vus', vus: Number(__ENV.ACCOUNT_VUS ?? 5), duration: __ENV.DURATION ?? '30s', exec: 'account' },
  },
  thresholds: {
    server_errors: ['count==0'],
    checkout: ['p(95)<500'],
    'http_req_duration{name:catalog page}': ['p(95)<200'],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(95)', 'p(99)', 'max', 'count'],
};

const count5xx = (res) => {
  if (res.status >= 500) serverErrors.add(1);
  return res;
};
const auth = () => ({ authorization: `Bearer ${accounts[(__VU - 1) % accounts.length].accessToken}` });

export function browse() {
  count5xx(http.get(`${BASE}/api/products?page=1&size=20`, { tags: { name: 'catalog page' } }));
  count5xx(http.get(`${BASE}/api/products/${PRODUCT}`, { tags: { name: 'product page' } }));
}

export function buy() {
  const res = count5xx(http.post(`${BASE}/api/orders`, JSON.stringify({ items: [{ productId: PRODUCT, quantity: 1 }] }), {
    headers: { ...auth(), 'content-type': 'application/json' },
    tags: { name: 'checkout' },
  }));
  checkout.add(res.timings.duration);
}

export function account() {
  count5xx(http.get(`${BASE}/api/users/me`, { headers: auth(), tags: { name: 'profile' } }));
  count5xx(http.get(`${BASE}/api/orders`, { headers: auth(), tags: { name: 'my orders' } }));
  count5xx(http.get(`${BASE}/api/wishlist`, { headers: auth(), tags: { name: 'my wishlist' } }));
}

export function handleSummary(data) {
  return { [__ENV.SUMMARY]: JSON.stringify(data) };
}

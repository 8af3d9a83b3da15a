import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser } from 'playwright-core';
import { routeFor } from '@flash/edge';
import {
  apiCall, apiClient, ContractChecker, ContractViolation, PUBLIC_API_DOCUMENT, repoRoot, succeeded, type ContractDocument,
} from '@flash/stack';
import { clientTypes, committed, GENERATED } from './support/api-document';
import { SERVICES, startTestStack, type TestStack } from './support/stack';

const CHROMIUM = '/usr/bin/chromium';
/** Where this suite leaves what a person may want to look at (gitignored). */
const OUTPUT = path.join(repoRoot, 'test-output/api-docs');

type Operation = { operationId: string; security?: Record<string, string[]>[]; responses: Record<string, unknown> };
type Document = ContractDocument & { paths: Record<string, Record<string, Operation>>; components: { securitySchemes?: Record<string, unknown> } };

/** Every operation of a document, with a concrete path (random ids for its parameters). */
function operationsOf(doc: Document) {
  return Object.entries(doc.paths).flatMap(([template, item]) => Object.entries(item).map(([method, op]) => ({
    method: method.toUpperCase(), template, op, path: template.replace(/\{[^}]+\}/g, () => randomUUID()),
  })));
}

describe('the public API document, as the people who use it meet it', () => {
  let stack: TestStack;
  let served: Document;
  const shopper = { name: 'Han Yuna', email: `yuna-${randomUUID()}@example.test`, password: 'Yuna!pass1', phone: '010-5555-6666', address: 'Incheon' };
  let shopperToken: string;

  beforeAll(async () => {
    stack = await startTestStack(SERVICES);
    served = await succeeded(apiClient(stack.edgeUrl).GET('/api/docs/openapi.json')) as unknown as Document;
    shopperToken = (await stack.signUp(shopper)).accessToken;
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('when Spectral lints the served document with the repository ruleset (spectral:oas), then it reports no error and no warning', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'spectral-'));
    try {
      writeFileSync(path.join(dir, 'openapi.json'), JSON.stringify(served));
      const report = path.join(dir, 'report.json');
      // Exit status 1 means results at error severity; the report says what they are either way.
      await promisify(execFile)(path.join(repoRoot, 'node_modules/.bin/spectral'), [
        'lint', path.join(dir, 'openapi.json'), '--ruleset', path.join(repoRoot, '.spectral.yaml'),
        '--format', 'json', '--output', report, '--fail-severity', 'hint',
      ]).catch((err: { code?: number }) => {
        if (err.code !== 1) throw err;
      });
      const results = JSON.parse(readFileSync(report, 'utf8')) as { code: string; path: string[]; message: string }[];
      expect(results.map((r) => `${r.code} at ${r.path.join('.')}: ${r.message}`)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('when the running API serves its document, then it is the committed one the typed client is generated from, and the client types are up to date', async () => {
    const outdated = 'out of date: run `npm run api:generate` and commit packages/stack/src/api';
    const document = JSON.parse(committed(GENERATED.document)) as unknown;
    expect({ outdated, document: served }).toEqual({ outdated, document });
    await expect(clientTypes('check').then(() => 'up to date', () => outdated)).resolves.toBe('up to date');
  });

  it('when the document lists paths, then each is an /api path the ingress routes, and no internal, event or Dapr route is among them', () => {
    const ownPaths = SERVICES.flatMap((name) => Object.keys(stack.service(name).service.built.document.paths ?? {}));
    // The services do have routes callers must never use; the public document leaves them out.
    expect(ownPaths).toEqual(expect.arrayContaining(['/internal/stock/reservations', '/internal/purchases/{id}/restock', '/events/purchase-paid', '/dapr/subscribe', '/healthz']));
    for (const p of Object.keys(served.paths)) expect({ path: p, routed: p.startsWith('/api/') && routeFor(p) !== undefined }).toEqual({ path: p, routed: true });
    expect(Object.keys(served.paths).sort()).toEqual([...new Set(ownPaths.filter((p) => p.startsWith('/api/')))].sort());
  });

  it('when an operation is marked with the bearer scheme, then it is defined, a call without a token gets 401 and a real token gets past it; unmarked operations need none', async () => {
    expect(served.components.securitySchemes).toEqual({ bearer: expect.objectContaining({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }) });
    const operations = operationsOf(served);
    const ids = operations.map(({ op }) => op.operationId);
    expect(new Set(ids).size).toBe(operations.length);
    const secured = operations.filter(({ op }) => op.security?.some((s) => 'bearer' in s));
    expect(secured.length).toBeGreaterThan(20);
    const body = (method: string) => (['POST', 'PUT', 'PATCH'].includes(method) ? { body: {} } : {});
    for (const { method, path: p, op } of operations) {
      // apiCall checks each answer against the committed document too.
      const anonymous = await apiCall(stack.edgeUrl, p, { method, ...body(method) });
      expect({ operation: op.operationId, status: anonymous.status === 401 }).toEqual({ operation: op.operationId, status: secured.some((s) => s.op === op) });
    }
    // Reading with a real token (writes would change the shopper): never 401.
    for (const { method, path: p, op } of secured.filter((s) => s.method === 'GET')) {
      const answer = await apiCall(stack.edgeUrl, p, { method, token: shopperToken });
      expect({ operation: op.operationId, refused: answer.status === 401 }).toEqual({ operation: op.operationId, refused: false });
    }
  });

  it('when a path parameter has a broken percent-encoding, then every route that takes one answers a 400 problem, never a 500', async () => {
    const broken = operationsOf(served).filter((o) => o.template.includes('{')).map((o) => ({ ...o, path: o.template.replace(/\{[^}]+\}/g, '%E0%A4%A') }));
    expect(broken.length).toBeGreaterThan(10);
    for (const { method, path: url } of broken) {
      const res = await fetch(`${stack.edgeUrl}${url}`, { method, headers: { authorization: `Bearer ${shopperToken}`, 'content-type': 'application/json' }, body: method === 'GET' ? undefined : '{}' });
      const body = (await res.json()) as { code?: string };
      expect({ route: `${method} ${url}`, status: res.status, type: res.headers.get('content-type'), code: body.code }).toEqual({
        route: `${method} ${url}`, status: 400, type: expect.stringContaining('application/problem+json'), code: 'MALFORMED_PATH',
      });
    }
  });

  it('when a path parameter is overlong (2,000 characters), then every route that takes one answers a 400 problem', async () => {
    const overlong = operationsOf(served).filter((o) => o.template.includes('{')).map((o) => ({ ...o, path: o.template.replace(/\{[^}]+\}/g, 'a'.repeat(2000)) }));
    // Admin routes with an admin's token: a shopper is refused (403) before the path is looked at.
    const adminToken = (await apiCall(stack.edgeUrl, '/api/auth/login', { body: stack.admin })).body.accessToken as string;
    const answers = [];
    for (const { method, path: url } of overlong) {
      const token = url.startsWith('/api/admin/') ? adminToken : shopperToken;
      const res = await fetch(`${stack.edgeUrl}${url}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: method === 'GET' ? undefined : '{}' });
      answers.push({ route: `${method} ${url.replace(/a{2000}/g, '{2000 × a}')}`, status: res.status, type: res.headers.get('content-type') });
      await res.arrayBuffer();
    }
    expect(answers.filter((a) => a.status !== 400 || !a.type?.includes('application/problem+json'))).toEqual([]);
  });

  it('when a running answer disagrees with the document (a field of another type, a route the document lacks), then the contract check fails the call', async () => {
    const res = await fetch(`${stack.edgeUrl}/api/flash-sales`);
    const answer = { method: 'GET', url: res.url, status: res.status, contentType: res.headers.get('content-type'), text: await res.text() };
    expect(() => new ContractChecker(PUBLIC_API_DOCUMENT).check(answer)).not.toThrow();

    const changed = JSON.parse(JSON.stringify(PUBLIC_API_DOCUMENT)) as Document;
    const list = changed.paths['/api/flash-sales']!.get!.responses['200'] as { content: Record<string, { schema: unknown }> };
    list.content['application/json']!.schema = { type: 'object', required: ['items', 'total'], properties: { items: { type: 'string' } } };
    expect(() => new ContractChecker(changed).check(answer)).toThrow(ContractViolation);
    expect(() => new ContractChecker(changed).check(answer)).toThrow(/\/items must be string/);
    expect(() => new ContractChecker(changed).check(answer)).toThrow(/must have required property 'total'/);

    delete changed.paths['/api/flash-sales'];
    expect(() => new ContractChecker(changed).check(answer)).toThrow(/the API serves this, but the document has no GET \/api\/flash-sales/);
    // A route neither has is no disagreement.
    await expect(apiCall(stack.edgeUrl, '/api/products/x/y/z')).resolves.toMatchObject({ status: 404 });
  });

  describe('in a browser', () => {
    let browser: Browser | undefined;

    beforeAll(async () => {
      if (!existsSync(CHROMIUM)) {
        throw new Error(`Chromium is not installed at ${CHROMIUM}: scripts/test.sh installs it (apt-get install chromium); this test cannot run without it.`);
      }
      mkdirSync(OUTPUT, { recursive: true });
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        // Background networking and updates off: this machine has no internet, and a test must not reach it.
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      });
    });

    afterAll(async () => {
      await browser?.close();
    });

    it('when a shopper opens /api/docs, authorizes with a real access token and runs GET /api/users/me, then the page shows 200 and their profile', async () => {
      const { accessToken } = await succeeded(apiClient(stack.edgeUrl).POST('/api/auth/login', { body: { email: shopper.email, password: shopper.password } }));
      const context = await browser!.newContext({ viewport: { width: 1280, height: 1600 } });
      const page = await context.newPage();
      try {
        await page.goto(`${stack.edgeUrl}/api/docs`);
        await page.locator('.swagger-ui .info .title').getByText('Flash sale API').waitFor();

        await page.locator('.swagger-ui .auth-wrapper button.authorize').click();
        const dialog = page.locator('.dialog-ux .modal-ux');
        await dialog.locator('input[type=text]').fill(accessToken);
        await dialog.locator('button.authorize').click();
        await dialog.locator('button.btn-done').click();

        const operation = page.locator('#operations-accounts-getMyProfile');
        await operation.locator('.opblock-summary').click();
        await operation.locator('button.try-out__btn').click();
        await operation.locator('button.execute').click();
        const response = operation.locator('.live-responses-table .response');
        await response.locator('.response-col_status').getByText('200').waitFor();
        await operation.screenshot({ path: path.join(OUTPUT, 'users-me-authorized.png') });
        const shown = JSON.parse(await response.locator('.response-col_description .microlight').first().innerText()) as Record<string, unknown>;
        expect(shown).toMatchObject({ email: shopper.email, name: shopper.name, role: 'customer', verified: true });
        // The curl line the UI shows carries the pasted token.
        expect(await operation.locator('.curl-command').innerText()).toContain(`Bearer ${accessToken}`);
      } finally {
        await context.close();
      }
    });
  });
});

import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  apiClient, deleteRedisKeys, dropDatabase, mysqlServerFromEnv, portOpen, privateStackEnv, startLocalStack, STACK_SERVICES, succeeded, testRunId, waitUntil,
} from '@flash/stack';

/** `npm start` as a developer types it, on ports, databases and keys of this test's own. */
describe('npm start', () => {
  const id = testRunId();
  const runDir = mkdtempSync(path.join(tmpdir(), `flash-start-${id}-`));
  let env: NodeJS.ProcessEnv;
  let edgePort: number;
  let base: number;

  beforeAll(async () => {
    const stackEnv = await privateStackEnv(id, runDir);
    edgePort = Number(stackEnv.EDGE_PORT);
    base = Number(stackEnv.STACK_PORT_BASE);
    env = { ...process.env, ...stackEnv };
  });

  afterAll(async () => {
    for (const s of STACK_SERVICES) await dropDatabase(mysqlServerFromEnv(), `${id}_${s}`);
    await deleteRedisKeys(`${id}*`);
    rmSync(runDir, { recursive: true, force: true });
  });

  function start(): { npm: ChildProcess; output: () => string; ready: Promise<number> } {
    const { child, output, ready } = startLocalStack('npm', ['start'], env);
    return { npm: child, output, ready };
  }

  /** Processes of this stack still alive: its sidecars and mail catcher carry its ports in their arguments. */
  function leftovers(): string[] {
    const ps = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
    const marks = [`--dapr-http-port ${base + 501}`, `--dapr-http-port ${base + 504}`, `--web ${env.MAIL_WEB_PORT}`];
    return ps.split('\n').filter((line) => marks.some((m) => line.includes(m)));
  }

  async function expectStackServes(): Promise<void> {
    const api = apiClient(`http://127.0.0.1:${edgePort}`);
    expect((await succeeded(api.GET('/api/docs/openapi.json')))['x-sources']).toHaveLength(4);
    // The demo shop is seeded once: products and a live flash sale.
    expect((await succeeded(api.GET('/api/products'))).total).toBe(3);
    expect((await succeeded(api.GET('/api/flash-sales'))).items).toEqual([expect.objectContaining({ status: 'LIVE', remaining: 20 })]);
  }

  it('when started, then every service is ready behind the edge; on SIGTERM nothing is left running', async () => {
    const stack = start();
    const seconds = await stack.ready;
    process.stdout.write(`npm start: ready in ${seconds}s\n`);
    await expectStackServes();
    for (let i = 1; i <= 4; i++) expect(await portOpen(base + i)).toBe(true);

    // user-service answered product-service through Dapr: its JSON log line carries the trace id Dapr propagated.
    const logLines = readFileSync(path.join(runDir, 'logs/user-service.log'), 'utf8').split('\n').filter(Boolean);
    const served = logLines.map((l) => JSON.parse(l) as { req?: { url: string }; traceId?: string })
      .filter((entry) => entry.req?.url === '/openapi.json');
    expect(served.length).toBeGreaterThan(0);
    expect(served[0]!.traceId).toMatch(/^[0-9a-f]{32}$/);

    stack.npm.kill('SIGTERM');
    await waitUntil('stack stopped', async () => leftovers().length === 0, 30_000);
    for (let i = 1; i <= 4; i++) expect(await portOpen(base + i)).toBe(false);
    expect(await portOpen(edgePort)).toBe(false);
  }, 180_000);

  it('when the previous run crashed and left processes behind, then a new start still comes up', async () => {
    const first = start();
    await first.ready;
    // Kill the orchestrator outright, as a crash would: its sidecars and services stay behind.
    const orchestrator = execFileSync('pgrep', ['-f', `-n`, 'scripts/start.ts'], { encoding: 'utf8' }).trim();
    process.kill(Number(orchestrator), 'SIGKILL');
    await new Promise((resolve) => first.npm.once('exit', resolve));
    expect(leftovers().length).toBeGreaterThan(0);

    const second = start();
    await second.ready;
    await expectStackServes();
    second.npm.kill('SIGTERM');
    await waitUntil('stack stopped', async () => leftovers().length === 0, 30_000);
  }, 240_000);
});

/**
 * `npm run bench:dapr-protocol`: what one state operation and one service invocation cost through @dapr/dapr over
 * HTTP and over gRPC — CPU of this (calling) process and of the daprd processes involved, from /proc. It starts a
 * caller sidecar and a callee sidecar in front of a tiny echo app (its own process), then for each protocol runs
 * BENCH_OPS (20,000) of each operation, BENCH_IN_FLIGHT (32) at a time, after a warm-up. Prints a table and writes
 * results/dapr-protocol-<time>.json.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { HttpMethod } from '@dapr/dapr';
import { Dapr, type DaprProtocol } from '@flash/dapr';
import { freePort, repoRoot, SidecarRun, waitUntil, httpOk, type Sidecar } from '@flash/stack';
import { cpuMs } from './measure/proc';

const OPS = Number(process.env.BENCH_OPS ?? 20_000);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 32);
const log = (msg: string) => process.stderr.write(`[dapr-protocol] ${msg}\n`);

// The callee answers every invocation with a small JSON body; it runs in its own process so its CPU stays apart.
const ECHO_APP = `require('node:http').createServer((req, res) => { let body = ''; req.on('data', (d) => (body += d));
  req.on('end', () => { res.setHeader('content-type', 'application/json'); res.end(JSON.stringify({ ok: true, got: body.length })); });
}).listen(Number(process.env.PORT), '127.0.0.1');`;

interface Cost { operation: string; protocol: DaprProtocol; opsPerSecond: number; callerUs: number; callerDaprdUs: number; calleeDaprdUs: number; totalUs: number }

async function measure(operation: string, protocol: DaprProtocol, sidecars: { caller: Sidecar; callee: Sidecar }, op: (i: number) => Promise<unknown>): Promise<Cost> {
  const run = async (count: number, offset: number) => {
    let next = 0;
    await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
      while (next < count) await op(offset + next++);
    }));
  };
  await run(Math.min(2000, OPS), 1_000_000);
  const before = { self: process.cpuUsage(), caller: cpuMs(sidecars.caller.child.pid!), callee: cpuMs(sidecars.callee.child.pid!), at: performance.now() };
  await run(OPS, 0);
  const self = process.cpuUsage(before.self);
  const perOpUs = (ms: number) => Math.round((ms * 1000) / OPS);
  const callerUs = Math.round((self.user + self.system) / OPS);
  const callerDaprdUs = perOpUs(cpuMs(sidecars.caller.child.pid!) - before.caller);
  const calleeDaprdUs = perOpUs(cpuMs(sidecars.callee.child.pid!) - before.callee);
  const opsPerSecond = Math.round(OPS / ((performance.now() - before.at) / 1000));
  return { operation, protocol, opsPerSecond, callerUs, callerDaprdUs, calleeDaprdUs, totalUs: callerUs + callerDaprdUs + calleeDaprdUs };
}

async function main(): Promise<void> {
  const run = new SidecarRun();
  const appPort = await freePort();
  const echo = spawn(process.execPath, ['-e', ECHO_APP], { env: { ...process.env, PORT: String(appPort) }, stdio: 'ignore' });
  const costs: Cost[] = [];
  try {
    await waitUntil('echo app', () => httpOk(`http://127.0.0.1:${appPort}/`));
    const callee = await run.start(`${run.id}-callee`, appPort);
    const caller = await run.start(`${run.id}-caller`);
    const sidecars = { caller, callee };
    for (const protocol of ['http', 'grpc'] as const) {
      const dapr = new Dapr({ httpPort: caller.ports.http, grpcPort: caller.ports.grpc, protocol, timeoutMs: 30_000, apiToken: run.apiToken });
      await dapr.start();
      const store = dapr.state<{ n: number }>('statestore');
      log(`${protocol}: ${OPS} state saves, reads and invocations, ${IN_FLIGHT} in flight`);
      costs.push(await measure('state save (first-write)', protocol, sidecars, (i) => store.create(`${protocol}-${i}`, { n: i })));
      costs.push(await measure('state get (with ETag)', protocol, sidecars, (i) => store.get(`${protocol}-${i % OPS}`)));
      // Invocation through the package always goes over HTTP (the SDK's gRPC invoker drops headers); the SDK's own
      // gRPC invoker is measured here so the choice stays informed.
      const invoke = protocol === 'http'
        ? (i: number) => dapr.invoke(callee.appId, 'echo', { method: 'POST', body: { i } })
        : (i: number) => dapr.sdk.invoker.invoke(callee.appId, 'echo', HttpMethod.POST, { i });
      costs.push(await measure('invocation (POST, JSON)', protocol, sidecars, invoke));
      await dapr.close();
    }
  } finally {
    echo.kill();
    await run.stop();
  }
  const rows = costs.map((c) => `| ${c.operation} | ${c.protocol} | ${c.opsPerSecond} | ${c.callerUs} | ${c.callerDaprdUs} | ${c.calleeDaprdUs} | ${c.totalUs} |`);
  process.stdout.write(
    ['| operation | protocol | ops/s | our process µs/op | its daprd µs/op | callee daprd µs/op | total µs/op |', '| --- | --- | --- | --- | --- | --- | --- |', ...rows].join('\n') + '\n',
  );
  const dir = path.join(repoRoot, 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `dapr-protocol-${new Date().toISOString().replace(/[:.]/g, '-')}.json`), JSON.stringify({ ops: OPS, inFlight: IN_FLIGHT, costs }, null, 2));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);

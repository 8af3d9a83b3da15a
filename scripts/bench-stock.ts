/**
 * `npm run bench:stock`: reserve throughput on ONE product through the real path (caller's daprd → product-service's
 * daprd → product-service → state store + MySQL ledger), at 10 and at 500 concurrent callers, for 1 and for N shards.
 * Prints a table and writes results/stock-bench-<time>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AppError } from '@flash/http';
import { Dapr } from '@flash/dapr';
import { apiClient, repoRoot, succeeded } from '@flash/stack';
import { startTestStack } from '../test/support/stack';

const DURATION_MS = Number(process.env.BENCH_SECONDS ?? 5) * 1000;
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '10,500').split(',').map(Number);
const SHARDS = (process.env.BENCH_SHARDS ?? '1,8').split(',').map(Number);

interface Result {
  shards: number;
  concurrency: number;
  reserves: number;
  perSecond: number;
  errors: Record<string, number>;
  p50: number;
  p95: number;
  p99: number;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

async function measure(shards: number, concurrencies: number[]): Promise<Result[]> {
  const stack = await startTestStack(['user-service', 'product-service'], {
    'product-service': { STOCK_SHARDS: String(shards), LOG_LEVEL: 'warn' },
  });
  try {
    // It plays order-service, the one app the access-control policy lets reserve stock.
    const caller = await stack.run.start('order-service');
    const dapr = new Dapr({ httpPort: caller.ports.http, timeoutMs: 30_000, apiToken: stack.run.apiToken });
    const { accessToken } = await succeeded(apiClient(stack.edgeUrl).POST('/api/auth/login', { body: stack.admin }));
    const asAdmin = apiClient(stack.edgeUrl, { token: accessToken });
    const results: Result[] = [];
    for (const concurrency of concurrencies) {
      const { id: productId } = await succeeded(asAdmin.POST('/api/admin/products', {
        body: { name: `bench ${shards}x${concurrency}`, price: 1, stock: 10_000_000 },
      }));
      const latencies: number[] = [];
      const errors: Record<string, number> = {};
      let next = 0;
      const deadline = Date.now() + DURATION_MS;
      const worker = async () => {
        while (Date.now() < deadline) {
          const started = performance.now();
          try {
            await dapr.invoke('product-service', 'internal/stock/reservations', {
              method: 'POST', body: { productId, quantity: 1, reservationId: `b-${concurrency}-${next++}` },
            });
            latencies.push(performance.now() - started);
          } catch (err) {
            const code = err instanceof AppError ? err.code : 'NETWORK';
            errors[code] = (errors[code] ?? 0) + 1;
          }
        }
      };
      const began = performance.now();
      await Promise.all(Array.from({ length: concurrency }, worker));
      const seconds = (performance.now() - began) / 1000;
      latencies.sort((a, b) => a - b);
      results.push({
        shards, concurrency, reserves: latencies.length, perSecond: Math.round(latencies.length / seconds), errors,
        p50: Math.round(percentile(latencies, 50)), p95: Math.round(percentile(latencies, 95)), p99: Math.round(percentile(latencies, 99)),
      });
      const last = results.at(-1)!;
      process.stdout.write(`[bench] shards=${shards} concurrency=${concurrency}: ${last.perSecond} reserves/s\n`);
    }
    return results;
  } finally {
    await stack.stop();
  }
}

async function main(): Promise<void> {
  const results: Result[] = [];
  for (const shards of SHARDS) results.push(...(await measure(shards, CONCURRENCY)));
  process.stdout.write(`\nreserve on one product, ${DURATION_MS / 1000} s per row, through Dapr invocation (ms)\n`);
  process.stdout.write('shards  callers  reserves/s   p50   p95   p99  errors\n');
  for (const r of results) {
    const errors = Object.entries(r.errors).map(([c, n]) => `${c}:${n}`).join(' ') || '-';
    process.stdout.write(
      `${String(r.shards).padStart(6)}  ${String(r.concurrency).padStart(7)}  ${String(r.perSecond).padStart(10)}  ${String(r.p50).padStart(4)}  ${String(r.p95).padStart(4)}  ${String(r.p99).padStart(4)}  ${errors}\n`,
    );
  }
  const dir = path.join(repoRoot, 'results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `stock-bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), durationMs: DURATION_MS, results }, null, 2));
  process.stdout.write(`\n${path.relative(repoRoot, file)}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);

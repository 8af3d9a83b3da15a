/**
 * What an idle stack costs once it holds data: starts a stack of its own (`scripts/start.ts`, real sidecars, own
 * databases, keys and topics), makes IDLE_HOLDS holds through the API (a third paid, a third abandoned, a third left
 * to expire), waits until nothing is due, then watches it sit idle for IDLE_SECONDS and prints the SQL statements per
 * second of each service (MariaDB's per-user statistics; every service has its own login) and the CPU of every
 * process of the stack (from /proc).
 *
 *   nice node --import tsx scripts/idle-cost.ts          # IDLE_HOLDS=3000 IDLE_SECONDS=60 by default
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import mysql from 'mysql2/promise';
import {
  apiCall, apiClient, deleteRedisKeys, dropDatabase, mysqlServerFromEnv, privateStackEnv, repoRoot, signUpShopper, startLocalStack,
  STACK_SERVICES, succeeded,
} from '@flash/stack';

const HOLDS = Number(process.env.IDLE_HOLDS ?? 3000);
const SECONDS = Number(process.env.IDLE_SECONDS ?? 60);
const HOLD_SECONDS = 20;
const PER_BUYER = 100; // the highest per-user limit a sale may have
const log = (msg: string) => process.stderr.write(`[idle] ${msg}\n`);

/** CPU ticks (1/100 s) of every process in a process group (a service started through tsx is two processes). */
function groupTicks(pgid: number): number {
  let ticks = 0;
  for (const entry of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid) ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone meanwhile
    }
  }
  return ticks;
}

function nameOf(pid: number): string {
  const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  return /services\/([a-z]+-service)\//.exec(cmd)?.[1] ?? (/--app-id ([a-z-]+)/.exec(cmd)?.[1] ? `${/--app-id ([a-z-]+)/.exec(cmd)![1]} daprd` : cmd.split(' ')[0]!.split('/').pop()!);
}

async function main(): Promise<void> {
  const id = `i${randomBytes(4).toString('hex')}`;
  const runDir = path.join(repoRoot, '.run', `idle-${id}`);
  const stackEnv = { ...(await privateStackEnv(id, runDir)), LOG_LEVEL: 'warn', SEED_DEMO_DATA: 'false', PAYMENT_FAILURE_RATE: '0.2', LOGIN_ATTEMPTS_PER_CLIENT: '1000' };
  const base = `http://127.0.0.1:${stackEnv.EDGE_PORT}`;
  const server = mysqlServerFromEnv();
  const db = await mysql.createConnection({ host: server.host, port: server.port, user: server.user, password: server.password });
  const stack = startLocalStack(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], stackEnv);
  try {
    log(`starting a stack of its own (${id}, edge ${base})`);
    await stack.ready;
    const admin = await succeeded(apiClient(base).POST('/api/auth/login', { body: { email: 'admin@flash-sale.local', password: 'Admin123!' } }));
    const asAdmin = apiClient(base, { token: admin.accessToken });
    const product = await succeeded(asAdmin.POST('/api/admin/products', { body: { name: `Idle ${id}`, price: 1000, stock: 0 } }));
    const sale = await succeeded(asAdmin.POST('/api/admin/flash-sales', {
      body: {
        productId: product.id, quantity: HOLDS, startsAt: new Date(Date.now() - 1000).toISOString(),
        endsAt: new Date(Date.now() + 86_400_000).toISOString(), perUserLimit: PER_BUYER, holdSeconds: HOLD_SECONDS,
      },
    }));
    const buyers: string[] = [];
    for (let i = 0; i < Math.ceil(HOLDS / PER_BUYER); i++) {
      buyers.push((await signUpShopper(base, `http://127.0.0.1:${stackEnv.MAIL_WEB_PORT}`, {
        name: `Idle ${i}`, email: `idle-${i}-${id}@example.test`, password: 'Idle!pass1', phone: '010-1234-5678', address: 'Seoul',
      })).accessToken);
    }
    log(`${buyers.length} buyers; making ${HOLDS} holds (a third paid, a third abandoned, a third left to expire)`);
    let next = 0;
    const outcomes: Record<string, number> = {};
    await Promise.all(Array.from({ length: 16 }, async () => {
      for (let i = next++; i < HOLDS; i = next++) {
        const token = buyers[Math.floor(i / PER_BUYER)]!;
        const held = await apiCall(base, `/api/flash-sales/${sale.id}/purchases`, { method: 'POST', token, headers: { 'idempotency-key': `idle-${i}` } });
        if (held.status !== 201) {
          outcomes[`hold ${held.status}`] = (outcomes[`hold ${held.status}`] ?? 0) + 1;
          continue;
        }
        const action = (['paid', 'abandoned', 'left to expire'] as const)[i % 3]!;
        const purchase = `/api/purchases/${held.body.purchaseId}`;
        if (action === 'paid') await apiCall(base, `${purchase}/payment`, { method: 'POST', token, body: {} });
        if (action === 'abandoned') await apiCall(base, purchase, { method: 'DELETE', token });
        outcomes[action] = (outcomes[action] ?? 0) + 1;
      }
    }));
    log(`done: ${JSON.stringify(outcomes)}; waiting until no hold is left`);
    for (;;) {
      const invariant = await succeeded(asAdmin.GET('/api/admin/flash-sales/{id}/invariant', { params: { path: { id: sale.id } } }));
      if (invariant.ledger.held === 0) break;
      await sleep(1000);
    }
    await sleep(10_000);

    const users = STACK_SERVICES.map((s) => `${id}_${s}`);
    await db.query('SET GLOBAL userstat = 1');
    const statements = async () => {
      const [rows] = await db.query(
        `SELECT USER AS user, SELECT_COMMANDS + UPDATE_COMMANDS + OTHER_COMMANDS AS statements, ROWS_READ AS rowsRead
           FROM INFORMATION_SCHEMA.USER_STATISTICS WHERE USER IN (?)`, [users]);
      return new Map((rows as { user: string; statements: number; rowsRead: number }[]).map((r) => [r.user, r]));
    };
    const pids = [stack.child.pid!, ...(JSON.parse(readFileSync(path.join(runDir, 'pids.json'), 'utf8')) as number[])];
    const names = new Map(pids.map((pid) => [pid, pid === stack.child.pid ? 'orchestrator' : nameOf(pid)]));
    log(`idle for ${SECONDS} s`);
    const sqlBefore = await statements();
    const cpuBefore = new Map(pids.map((pid) => [pid, groupTicks(pid)]));
    const began = Date.now();
    await sleep(SECONDS * 1000);
    const seconds = (Date.now() - began) / 1000;
    const sqlAfter = await statements();
    const rate = (v: number) => Math.round((v / seconds) * 100) / 100;

    const [purchases] = await db.query(`SELECT status, COUNT(*) AS n FROM \`${id}_purchase\`.purchases GROUP BY status`);
    const [orders] = await db.query(`SELECT status, COUNT(*) AS n FROM \`${id}_order\`.orders GROUP BY status`);
    const byStatus = (rows: unknown) => JSON.stringify(Object.fromEntries((rows as { status: string; n: number }[]).map((r) => [r.status, Number(r.n)])));
    const out = [
      `\nidle after ${HOLDS} holds (${JSON.stringify(outcomes)}), ${Math.round(seconds)} s`,
      `  purchases ${byStatus(purchases)}, orders ${byStatus(orders)}`,
      '  service            SQL statements/s   rows read/s',
    ];
    let sqlTotal = 0;
    for (const user of users) {
      const b = sqlBefore.get(user);
      const a = sqlAfter.get(user);
      const d = (k: 'statements' | 'rowsRead') => Number(a?.[k] ?? 0) - Number(b?.[k] ?? 0);
      sqlTotal += d('statements');
      out.push(`  ${user.slice(id.length + 1).padEnd(18)} ${String(rate(d('statements'))).padStart(16)}   ${String(rate(d('rowsRead'))).padStart(11)}`);
    }
    out.push(`  all services       ${String(rate(sqlTotal)).padStart(16)}`, '  process                      % of one core');
    let cpuTotal = 0;
    for (const pid of pids) {
      const percent = (groupTicks(pid) - cpuBefore.get(pid)!) / seconds;
      cpuTotal += percent;
      out.push(`  ${names.get(pid)!.padEnd(28)} ${percent.toFixed(2).padStart(12)}`);
    }
    out.push(`  the stack's processes        ${cpuTotal.toFixed(2).padStart(11)}   (MariaDB and Redis are shared with other work on this machine: not counted)`);
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    if (stack.child.exitCode === null) {
      stack.child.kill('SIGTERM');
      await new Promise((resolve) => stack.child.once('exit', resolve));
    }
    await db.end();
    for (const s of STACK_SERVICES) await dropDatabase(server, `${id}_${s}`);
    await deleteRedisKeys(`${id}*`);
    rmSync(runDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});

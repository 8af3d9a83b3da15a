// `npm run cluster -- up|down|status`: the local control plane (k8s/control-plane.ts) in the background.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '@flash/stack';
import { alive, daprCrdsDir, startControlPlane, stopDetached, type ControlPlaneState } from './control-plane';

const dir = path.resolve(repoRoot, process.env.STACK_RUN_DIR ?? '.run', 'cluster');
const stateFile = path.join(dir, 'state.json');

function readState(): ControlPlaneState | undefined {
  return existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, 'utf8')) as ControlPlaneState) : undefined;
}

async function up(): Promise<void> {
  const state = readState();
  if (state && Object.values(state.pids).every(alive)) {
    console.log(`[cluster] already up at ${state.server}\nexport KUBECONFIG=${state.kubeconfig}`);
    return;
  }
  if (state) await down();
  // Builds the control plane's binaries on the first run (minutes), then finds them cached.
  execFileSync('bash', [path.join(repoRoot, 'scripts/bootstrap.sh'), '--cluster'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const began = Date.now();
  const cluster = await startControlPlane(dir, { detach: true, log: (line) => console.log(`[cluster] ${line}`) });
  const pids = Object.fromEntries(cluster.processes.map((p) => [p.name, p.child.pid!]));
  writeFileSync(stateFile, JSON.stringify({ kubeconfig: cluster.kubeconfig, server: cluster.server, pids }, null, 2));
  console.log(`[cluster] up in ${((Date.now() - began) / 1000).toFixed(1)} s: ${cluster.server} (logs: ${path.join(dir, 'logs')})
[cluster] no kubelet and no scheduler: Pods are created (with their injected daprd) and stay Pending.
[cluster] Dapr's CRDs: kubectl apply --server-side -f ${daprCrdsDir()}
export KUBECONFIG=${cluster.kubeconfig}`);
}

async function down(): Promise<void> {
  const state = readState();
  if (state) await stopDetached(state);
  rmSync(dir, { recursive: true, force: true });
  console.log(state ? '[cluster] down' : '[cluster] was not up');
}

function status(): void {
  const state = readState();
  if (!state) {
    console.log('[cluster] not up');
    return;
  }
  for (const [name, pid] of Object.entries(state.pids)) console.log(`[cluster] ${name} (pid ${pid}): ${alive(pid) ? 'running' : 'stopped'}`);
  console.log(`export KUBECONFIG=${state.kubeconfig}`);
}

const command = process.argv[2];
const commands: Record<string, () => Promise<void> | void> = { up, down, status };
if (!command || !commands[command]) {
  console.error('usage: npm run cluster -- up|down|status');
  process.exit(2);
}
Promise.resolve(commands[command]!()).catch((err: Error) => {
  console.error(`[cluster] ${err.message}`);
  process.exit(1);
});

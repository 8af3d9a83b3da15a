/** The no-op app (answers 401 like the auth guard) in a process of its own, and the local edge (HAProxy) in front of it. */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { routes, startEdge } from '@flash/edge';
import { freePorts } from '@flash/stack';

function startNode(file: string, env: Record<string, string>): Promise<ChildProcess> {
  const child = fork(path.join(__dirname, file), { execArgv: ['--import', 'tsx'], env: { ...process.env, ...env }, stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`${file} exited (${code})`)));
  });
}

export interface NoopStack {
  app: ChildProcess;
  edgePid: number;
  appPort: number;
  edgePort: number;
  stop(): Promise<void>;
}

export async function startNoopStack(): Promise<NoopStack> {
  const [appPort, edgePort] = (await freePorts(2)) as [number, number];
  const app = await startNode('noop-app.ts', { PORT: String(appPort) });
  const dir = mkdtempSync(path.join(tmpdir(), 'noop-edge-'));
  // Every area routes to the no-op app.
  const targets = Object.fromEntries(routes.map((r) => [r.service, `http://127.0.0.1:${appPort}`]));
  const edge = await startEdge({ host: '127.0.0.1', port: edgePort, targets, dir }).catch((err: unknown) => {
    app.kill('SIGTERM');
    throw err;
  });
  return {
    app, edgePid: edge.child.pid!, appPort, edgePort,
    stop: async () => {
      await edge.stop();
      app.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

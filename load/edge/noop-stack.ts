/** The no-op app (answers 401 like the auth guard) and the local edge in front of it, each in a process of its own. */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
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
  edge: ChildProcess;
  appPort: number;
  edgePort: number;
  stop(): void;
}

export async function startNoopStack(): Promise<NoopStack> {
  const [appPort, edgePort] = (await freePorts(2)) as [number, number];
  const app = await startNode('noop-app.ts', { PORT: String(appPort) });
  const edge = await startNode('serve-edge.ts', { PORT: String(edgePort), TARGET: `http://127.0.0.1:${appPort}` }).catch((err: unknown) => {
    app.kill('SIGTERM');
    throw err;
  });
  return {
    app, edge, appPort, edgePort,
    stop: () => {
      edge.kill('SIGTERM');
      app.kill('SIGTERM');
    },
  };
}

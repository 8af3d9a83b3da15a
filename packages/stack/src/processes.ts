import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, createWriteStream, openSync, readFileSync } from 'node:fs';
import net from 'node:net';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** `count` free ports, all different: a port is free again once its probe closes, so the OS may hand it out twice. */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 60_000, everyMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Rejects as soon as the process exits: a wait for its readiness should not outlive it. */
export function failOnExit(managed: Managed): Promise<never> {
  return managed.exited.then((code) => {
    throw new Error(`${managed.name} exited with code ${code}:\n${managed.output().slice(-4000)}`);
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:port now. */
export const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });

export async function httpOk(url: string, init?: RequestInit): Promise<boolean> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(2000) });
  await res.arrayBuffer();
  return res.ok;
}

export interface Managed {
  name: string;
  child: ChildProcess;
  /** Everything the process printed, for assertions and for diagnosing a failed start. */
  output(): string;
  exited: Promise<number | null>;
  stop(timeoutMs?: number): Promise<void>;
}

/**
 * Spawns a process in its own process group, so stopping it also stops what it spawned.
 * Output is kept in memory and, with `logFile`, written to that file. With `detach`, the process outlives this one
 * (`npm run cluster -- up`): its output goes straight to `logFile` (required), which `output()` reads.
 */
export function startProcess(
  name: string,
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; logFile?: string; echo?: boolean; detach?: boolean } = {},
): Managed {
  if (options.detach && !options.logFile) throw new Error(`${name}: a detached process needs a log file`);
  const logFd = options.detach ? openSync(options.logFile!, 'a') : undefined;
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    detached: true,
    stdio: logFd === undefined ? ['ignore', 'pipe', 'pipe'] : ['ignore', logFd, logFd],
  });
  const chunks: string[] = [];
  if (logFd !== undefined) {
    closeSync(logFd);
    child.unref();
  } else {
    const file = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : undefined;
    const onData = (data: Buffer) => {
      const text = data.toString();
      chunks.push(text);
      if (chunks.length > 5000) chunks.splice(0, 1000);
      file?.write(text);
      if (options.echo) process.stdout.write(text.replace(/^(?=.)/gm, `[${name}] `));
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', () => file?.end());
  }
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => resolve(code));
    child.on('error', (err) => {
      chunks.push(`spawn failed: ${err.message}\n`);
      resolve(-1);
    });
  });
  let stopping: Promise<void> | undefined;
  const stop = (timeoutMs = 10_000) =>
    (stopping ??= (async () => {
      if (child.exitCode !== null || child.pid === undefined) return;
      signalGroup(child.pid, 'SIGTERM');
      const timer = setTimeout(() => signalGroup(child.pid!, 'SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
      // Whatever the leader left behind in its group goes too.
      signalGroup(child.pid, 'SIGKILL');
    })());
  const output = () => (logFd === undefined ? chunks.join('') : readFileSync(options.logFile!, 'utf8').slice(-20_000) + chunks.join(''));
  return { name, child, output, exited, stop };
}

export function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { failOnExit, startProcess, waitUntil, type Managed } from '@flash/stack';
import { nginxConfig, type EdgeConfig } from './nginx';

export interface Edge extends Managed {
  url: string;
  /** nginx's worker process, which does the proxying (the master only watches it), for measuring its CPU. */
  worker(): number | undefined;
}

/** The pid of a child process of `parent` (from /proc/<pid>/stat's ppid). */
function childOf(parent: number): number | undefined {
  for (const entry of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/** Debian's nginx (scripts/nginx.sh installs it; /usr/sbin is not on every user's PATH). */
function nginxBinary(): string {
  const found = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin'].map((d) => path.join(d, 'nginx')).find((f) => existsSync(f));
  if (!found) throw new Error('nginx not found: run `bash scripts/nginx.sh` (Debian\'s nginx-light; as root) or install nginx');
  return found;
}

/** Starts the edge (nginx, see nginxConfig) in the foreground and waits until it answers. */
export async function startEdge(config: EdgeConfig, options: { logFile?: string } = {}): Promise<Edge> {
  mkdirSync(config.dir, { recursive: true });
  const file = path.join(config.dir, 'nginx.conf');
  writeFileSync(file, nginxConfig(config));
  const managed = startProcess('edge', nginxBinary(), ['-p', config.dir, '-c', file, '-e', 'stderr'], { logFile: options.logFile });
  const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${config.port}`;
  try {
    // Any answer will do: / has no route, so a running edge says 404.
    await Promise.race([waitUntil('the edge', async () => (await fetch(`${url}/`, { signal: AbortSignal.timeout(2000) })).status === 404, 15_000, 50), failOnExit(managed)]);
  } catch (err) {
    await managed.stop();
    throw new Error(`the edge did not start: ${(err as Error).message}`);
  }
  return { ...managed, url, worker: () => childOf(managed.child.pid!) };
}

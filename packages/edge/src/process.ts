import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { failOnExit, startProcess, waitUntil, type Managed } from '@flash/stack';
import { edgeAnswers, haproxyConfig, type EdgeConfig } from './haproxy';

export interface Edge extends Managed {
  url: string;
}

/** Debian's HAProxy (scripts/haproxy.sh installs it; /usr/sbin is not on every user's PATH). */
function haproxyBinary(): string {
  const found = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin'].map((d) => path.join(d, 'haproxy')).find((f) => existsSync(f));
  if (!found) throw new Error('haproxy not found: run `bash scripts/haproxy.sh` (Debian\'s haproxy; as root) or install HAProxy');
  return found;
}

/**
 * As many connections as the open-file limit HAProxy may raise itself to allows (two descriptors each, a client's and
 * a service's, and some to spare), at most 20,000.
 */
function connectionsAllowed(): number {
  const hard = /Max open files\s+\S+\s+(\S+)/.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
  const files = hard === undefined || hard === 'unlimited' ? 40_000 : Number(hard);
  return Math.max(100, Math.min(20_000, Math.floor((files - 100) / 2)));
}

/** Starts the edge (HAProxy, see haproxyConfig) in the foreground, one process, and waits until it answers. */
export async function startEdge(config: Omit<EdgeConfig, 'maxConnections'>, options: { logFile?: string } = {}): Promise<Edge> {
  mkdirSync(config.dir, { recursive: true });
  for (const [name, answer] of Object.entries(edgeAnswers(config.targets))) writeFileSync(path.join(config.dir, name), answer);
  const file = path.join(config.dir, 'haproxy.cfg');
  writeFileSync(file, haproxyConfig({ ...config, maxConnections: connectionsAllowed() }));
  const managed = startProcess('edge', haproxyBinary(), ['-db', '-f', file], { logFile: options.logFile });
  const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${config.port}`;
  try {
    // Any answer will do: / has no route, so a running edge says 404.
    await Promise.race([waitUntil('the edge', async () => (await fetch(`${url}/`, { signal: AbortSignal.timeout(2000) })).status === 404, 15_000, 50), failOnExit(managed)]);
  } catch (err) {
    await managed.stop();
    throw new Error(`the edge did not start: ${(err as Error).message}`);
  }
  return { ...managed, url };
}

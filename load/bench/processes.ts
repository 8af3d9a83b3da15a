import { readFileSync, readdirSync } from 'node:fs';

/** A process the bench measures: one of the stack's own, or the machine's MariaDB or Redis (`shared`). */
export interface StackProcess {
  name: string;
  pid: number;
  /** A sidecar's Prometheus port. */
  metricsPort?: number;
  /** MariaDB and Redis serve every stack and test run on the machine, not only this one. */
  shared?: boolean;
}

const read = (file: string) => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
};

/**
 * The processes of the stack started with STACK_RUN_DIR=`runDir` (its orchestrator; services, sidecars, the edge
 * (HAProxy), MailDev, Sentry — all inherit that variable), plus the machine's MariaDB and Redis. A second replica of a service or sidecar is named `… #2`.
 */
export function stackProcesses(orchestratorPid: number, runDir: string): StackProcess[] {
  const found: StackProcess[] = [{ name: 'orchestrator', pid: orchestratorPid }];
  const named = (name: string) => {
    const same = found.filter((p) => p.name === name || p.name.startsWith(`${name} #`)).length;
    return same ? `${name} #${same + 1}` : name;
  };
  for (const entry of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    const pid = Number(entry);
    if (pid === orchestratorPid) continue;
    const comm = read(`/proc/${entry}/comm`).trim();
    if (/^(mariadbd|mysqld)$/.test(comm) && !found.some((p) => p.name === 'mariadb')) {
      found.push({ name: 'mariadb', pid, shared: true });
      continue;
    }
    if (comm === 'redis-server' && !found.some((p) => p.name === 'redis')) {
      found.push({ name: 'redis', pid, shared: true });
      continue;
    }
    if (!read(`/proc/${entry}/environ`).split('\0').includes(`STACK_RUN_DIR=${runDir}`)) continue;
    const cmd = read(`/proc/${entry}/cmdline`).replace(/\0/g, ' ');
    const appId = /--app-id (\S+)/.exec(cmd)?.[1];
    // services/<name>/src/main.ts through tsx, or dist/<name>/main.js compiled.
    const service = /(?:services|dist)\/([a-z]+-service)\//.exec(cmd)?.[1];
    if (appId) found.push({ name: named(`${appId} daprd`), pid, metricsPort: Number(/--metrics-port (\d+)/.exec(cmd)?.[1]) });
    else if (service) found.push({ name: named(service), pid });
    else if (comm === 'haproxy') found.push({ name: 'edge', pid });
    else if (/maildev/.test(cmd)) found.push({ name: 'maildev', pid });
    else if (/sentry/.test(comm)) found.push({ name: 'sentry', pid });
  }
  const order = (p: StackProcess) => (p.shared ? 3 : p.metricsPort ? 2 : p.name.endsWith('-service') || p.name.includes('-service #') ? 0 : 1);
  return found.sort((a, b) => order(a) - order(b) || a.name.localeCompare(b.name));
}

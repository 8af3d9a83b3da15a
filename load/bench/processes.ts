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
 * The processes of the stack started with STACK_RUN_DIR=`runDir` (its orchestrator; services, sidecars, MailDev,
 * Sentry — all inherit that variable; the edge's nginx master runs from a prefix under `runDir`, its worker, which
 * does the proxying, is the master's child), plus the machine's MariaDB and Redis. A second replica of a service or sidecar is named `… #2`.
 */
export function stackProcesses(orchestratorPid: number, runDir: string): StackProcess[] {
  const found: StackProcess[] = [{ name: 'orchestrator', pid: orchestratorPid }];
  const nginx: { pid: number; parent: number }[] = [];
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
    if (comm === 'nginx') {
      // nginx writes its title over its environment: its master is known by its prefix (under runDir) instead.
      const stat = read(`/proc/${entry}/stat`);
      const title = read(`/proc/${entry}/cmdline`);
      if (title.includes('master process') && title.includes(`${runDir}/`)) found.push({ name: 'edge (nginx master)', pid });
      else nginx.push({ pid, parent: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) });
      continue;
    }
    if (!read(`/proc/${entry}/environ`).split('\0').includes(`STACK_RUN_DIR=${runDir}`)) continue;
    const cmd = read(`/proc/${entry}/cmdline`).replace(/\0/g, ' ');
    const appId = /--app-id (\S+)/.exec(cmd)?.[1];
    // services/<name>/src/main.ts through tsx, or dist/<name>/main.js compiled.
    const service = /(?:services|dist)\/([a-z]+-service)\//.exec(cmd)?.[1];
    if (appId) found.push({ name: named(`${appId} daprd`), pid, metricsPort: Number(/--metrics-port (\d+)/.exec(cmd)?.[1]) });
    else if (service) found.push({ name: named(service), pid });
    else if (/maildev/.test(cmd)) found.push({ name: 'maildev', pid });
    else if (/sentry/.test(comm)) found.push({ name: 'sentry', pid });
  }
  const master = found.find((p) => p.name === 'edge (nginx master)');
  for (const worker of nginx.filter((n) => master && n.parent === master.pid)) found.push({ name: named('edge'), pid: worker.pid });
  const order = (p: StackProcess) => (p.shared ? 3 : p.metricsPort ? 2 : p.name.endsWith('-service') || p.name.includes('-service #') ? 0 : 1);
  return found.sort((a, b) => order(a) - order(b) || a.name.localeCompare(b.name));
}

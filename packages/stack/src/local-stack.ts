import { spawn, type ChildProcess } from 'node:child_process';
import { freePorts, portOpen } from './processes';
import { repoRoot } from './paths';

export const STACK_SERVICES = ['user', 'product', 'purchase', 'order'] as const;

/**
 * Where `npm start` puts the ports of replica `replica` (0 = the first) of the service at index `service` of
 * STACK_SERVICES: its app at base+1.., its daprd at base+501.. (gRPC +601, internal gRPC +701, metrics +801), a second
 * replica 10 above the first.
 */
export function stackPorts(base: number, service: number, replica = 0): { app: number; dapr: { http: number; grpc: number; internalGrpc: number; metrics: number } } {
  const at = (offset: number) => base + offset + service + 10 * replica;
  return { app: at(1), dapr: { http: at(501), grpc: at(601), internalGrpc: at(701), metrics: at(801) } };
}

/**
 * The environment for a whole `npm start` stack of its own: a free block of ports below the ephemeral range (apps
 * at base+1.., sidecars at base+501.., see scripts/start.ts), and databases, state keys and topics named after `id`.
 */
type StackVariable = 'STACK_RUN_DIR' | 'STACK_PORT_BASE' | 'EDGE_PORT' | 'MAIL_WEB_PORT' | 'MAIL_SMTP_PORT' | 'STATE_KEY_PREFIX' | 'TOPIC_PREFIX';

export async function privateStackEnv(id: string, runDir: string): Promise<NodeJS.ProcessEnv & Record<StackVariable, string>> {
  // Four services and room for a second replica of each.
  const blockPorts = (b: number) => STACK_SERVICES.flatMap((_, i) => [0, 1].map((r) => stackPorts(b, i, r))).flatMap(({ app, dapr }) => [app, ...Object.values(dapr)]);
  let base: number;
  do {
    base = 20_000 + Math.floor(Math.random() * 12) * 1000;
  } while ((await Promise.all(blockPorts(base).map(portOpen))).some(Boolean));
  const [edge, mailWeb, mailSmtp] = await freePorts(3);
  return {
    STACK_RUN_DIR: runDir,
    STACK_PORT_BASE: String(base),
    EDGE_PORT: String(edge),
    MAIL_WEB_PORT: String(mailWeb),
    MAIL_SMTP_PORT: String(mailSmtp),
    STATE_KEY_PREFIX: id,
    TOPIC_PREFIX: id,
    ...Object.fromEntries(STACK_SERVICES.map((s) => [`${s.toUpperCase()}_DB_NAME`, `${id}_${s}`])),
  };
}

/** Runs `command args` (npm start, or the orchestrator itself) and resolves when it prints its ready line. */
export function startLocalStack(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): { child: ChildProcess; output: () => string; ready: Promise<number> } {
  const child = spawn(command, args, { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const ready = new Promise<number>((resolve, reject) => {
    const onData = (data: Buffer) => {
      output += data.toString();
      const match = /\[start\] ready in ([\d.]+)s/.exec(output);
      if (match) resolve(Number(match[1]));
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`the stack exited (${code}) before it was ready:\n${output}`)));
  });
  return { child, output: () => output, ready };
}

import path from 'node:path';
import type { Managed } from './processes';

/**
 * The file that holds a stack's process down after it dies (SuperviseOptions.held in `npm start`), until the file goes:
 * a crash-looping container kept in back-off, for the fault drills. `name` is the process's: `order-service`,
 * `order-service-dapr`.
 */
export const heldMark = (runDir: string, name: string) => path.join(runDir, 'held', name);

/** Waits before a restart: the first at once-ish, then doubling up to a cap, like Kubernetes' crash-loop back-off. */
export interface RestartPolicy {
  firstDelayMs: number;
  maxDelayMs: number;
  /** A process that ran this long before it died is restarted after the first delay again. */
  resetAfterMs: number;
}

export const LOCAL_RESTART_POLICY: RestartPolicy = { firstDelayMs: 250, maxDelayMs: 8_000, resetAfterMs: 30_000 };

/** A process the supervisor keeps running: `current` is the instance alive now (or the last one that died). */
export interface Supervised {
  readonly name: string;
  current(): Managed;
  restarts(): number;
  /** Stops the process for good: it is not restarted after this. */
  stop(): Promise<void>;
}

export interface SuperviseOptions {
  policy?: RestartPolicy;
  /** Told what happens: a death and the restart after it, in words for the stack's output. */
  log(message: string): void;
  /** Told every time a new instance runs (to record its pid). */
  started?(process: Managed): void;
  /** While this says so, a dead process is not started again (a crash-looping container held in back-off). */
  held?(): boolean;
}

/**
 * Keeps a process running as Kubernetes keeps a container running: when it dies without being asked to stop, it is
 * started again with the same command (through `start`, which resolves once it runs), after a back-off that grows
 * while it keeps dying.
 */
export async function supervise(start: () => Promise<Managed>, options: SuperviseOptions): Promise<Supervised> {
  const policy = options.policy ?? LOCAL_RESTART_POLICY;
  let instance = await start();
  let restarts = 0;
  let stopped = false;
  let delay = policy.firstDelayMs;
  let startedAt = Date.now();
  const name = instance.name;
  options.started?.(instance);

  let restarting: Promise<void> | undefined;
  const watch = (running: Managed): void => {
    restarting = running.exited.then(async (code) => {
      if (stopped) return;
      if (Date.now() - startedAt >= policy.resetAfterMs) delay = policy.firstDelayMs;
      const how = running.child.signalCode ?? `code ${code}`;
      options.log(`${name} died (${how}); restarting in ${(delay / 1000).toFixed(2)} s`);
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, policy.maxDelayMs);
      if (options.held?.()) options.log(`${name} is held down; it restarts once released`);
      while (!stopped && options.held?.()) await new Promise((resolve) => setTimeout(resolve, 100));
      while (!stopped) {
        try {
          instance = await start();
          break;
        } catch (err) {
          options.log(`${name} did not start again: ${(err as Error).message.split('\n')[0]}; retrying in ${(delay / 1000).toFixed(2)} s`);
          await new Promise((resolve) => setTimeout(resolve, delay));
          delay = Math.min(delay * 2, policy.maxDelayMs);
        }
      }
      if (stopped) return;
      restarts++;
      startedAt = Date.now();
      options.started?.(instance);
      options.log(`${name} restarted (restart ${restarts}, pid ${instance.child.pid})`);
      watch(instance);
    });
  };
  watch(instance);

  return {
    name,
    current: () => instance,
    restarts: () => restarts,
    async stop() {
      stopped = true;
      // A restart under way finishes first, so the instance it starts is stopped too.
      await instance.stop();
      await restarting;
      await instance.stop();
    },
  };
}

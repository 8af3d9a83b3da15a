import { readFileSync } from 'node:fs';

/** CPU ticks (user + system, 1/100 s) and peak memory of a process, from /proc; undefined once it is gone. */
export function sample(pid: number): { ticks: number; peakKiB: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    const peakKiB = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    return { ticks, peakKiB };
  } catch {
    return undefined;
  }
}

/** CPU milliseconds a process has used so far. */
export const cpuMs = (pid: number) => (sample(pid)?.ticks ?? 0) * 10;

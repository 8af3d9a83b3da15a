import { readFileSync } from 'node:fs';

/**
 * CPU ticks (user + system, 1/100 s), resident memory now and its peak (VmHWM) of a process, from /proc; undefined
 * once it is gone.
 */
export function sample(pid: number): { ticks: number; rssKiB: number; peakKiB: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    return { ticks, rssKiB: kib('VmRSS'), peakKiB: kib('VmHWM') };
  } catch {
    return undefined;
  }
}

/** CPU milliseconds a process has used so far. */
export const cpuMs = (pid: number) => (sample(pid)?.ticks ?? 0) * 10;

/**
 * What a stretch of time cost: CPU of every process (from /proc), peak resident memory seen, and the work counters.
 * `idle()` gives the same per second with no load, so a step's cost can be told apart from the background.
 */
import { sample } from '../measure/proc';
import { bySidecar, WorkCounters, type Counts } from './counters';
import type { StackProcess } from './processes';

export interface Window {
  seconds: number;
  /** `cpu:<process>` in CPU ms, and the counters of `WorkCounters` (sidecar calls per sidecar), as differences. */
  delta: Counts;
  /** Highest resident memory seen per process, sampled every 250 ms. */
  peakRssMiB: Record<string, number>;
}

const SAMPLE_EVERY_MS = 250;

export class StackMeter {
  readonly counters: WorkCounters;

  /** `dbUsers`: the stack's own MariaDB users (see WorkCounters). */
  constructor(readonly processes: StackProcess[], dbUsers: string[] = []) {
    this.counters = new WorkCounters(processes.filter((p) => p.metricsPort), dbUsers);
  }

  /**
   * Measures `work`; `follow(name, pid)` adds a process started inside it (k6): its CPU is the last reading taken
   * before it exits, counted from zero.
   */
  async window<T>(work: (follow: (name: string, pid: number) => void) => Promise<T>): Promise<{ result: T; window: Window }> {
    const tracked = new Map(this.processes.map((p) => [p.name, p.pid]));
    const startTicks = new Map([...tracked].map(([name, pid]) => [name, sample(pid)?.ticks ?? 0]));
    const lastTicks = new Map(startTicks);
    const peak = new Map<string, number>();
    const take = () => {
      for (const [name, pid] of tracked) {
        const s = sample(pid);
        if (!s) continue;
        lastTicks.set(name, s.ticks);
        peak.set(name, Math.max(peak.get(name) ?? 0, s.rssKiB));
      }
    };
    const countersBefore = await this.counters.read();
    const began = performance.now();
    const sampler = setInterval(take, SAMPLE_EVERY_MS);
    let result: T;
    try {
      result = await work((name, pid) => {
        tracked.set(name, pid);
        startTicks.set(name, 0);
      });
    } finally {
      clearInterval(sampler);
    }
    take();
    const seconds = (performance.now() - began) / 1000;
    const countersAfter = await this.counters.read();
    const delta: Counts = {};
    for (const [name, ticks] of lastTicks) delta[`cpu:${name}`] = (ticks - (startTicks.get(name) ?? 0)) * 10;
    // A counter lower than before was made anew (a sidecar series dropped and started again): it counts from zero.
    const counted: Counts = {};
    for (const [key, value] of Object.entries(countersAfter)) counted[key] = value >= (countersBefore[key] ?? 0) ? value - (countersBefore[key] ?? 0) : value;
    Object.assign(delta, bySidecar(counted));
    const peakRssMiB = Object.fromEntries([...peak].map(([name, kib]) => [name, Math.round(kib / 1024)]));
    return { result, window: { seconds, delta, peakRssMiB } };
  }

  /** Cost per second with nothing but the background running, over `seconds`. */
  async idle(seconds: number): Promise<{ perSecond: Counts; window: Window }> {
    const { window } = await this.window(() => new Promise((r) => setTimeout(r, seconds * 1000)));
    return { perSecond: scale(window.delta, 1 / window.seconds), window };
  }

  close(): Promise<void> {
    return this.counters.close();
  }
}

export const scale = (counts: Counts, by: number): Counts => Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v * by]));

/** A window's cost above the idle rate: `delta − idle × seconds`, per key. */
export const aboveIdle = (window: Window, idlePerSecond: Counts): Counts =>
  Object.fromEntries(Object.entries(window.delta).map(([k, v]) => [k, v - (idlePerSecond[k] ?? 0) * window.seconds]));

/** Keys starting with `prefix`, without it. */
export const part = (counts: Counts, prefix: string): Record<string, number> =>
  Object.fromEntries(Object.entries(counts).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));

export const sum = (values: Record<string, number>) => Object.values(values).reduce((a, b) => a + b, 0);

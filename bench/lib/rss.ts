/** Resident memory of the services' processes, for the memory scenario. */
import { readFile } from 'node:fs/promises';

/** Resident set size (bytes) of a process, from /proc/<pid>/status (VmRSS). */
export async function rssOf(pid: number | undefined): Promise<number> {
  if (pid === undefined) return Number.NaN;
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Samples a process's RSS every `everyMs` until stopped; reports the maximum and the last value. */
export function sampleRss(pid: number | undefined, everyMs = 250) {
  let max = 0;
  let last = Number.NaN;
  const timer = setInterval(() => {
    void rssOf(pid).then((value) => {
      if (Number.isFinite(value)) {
        last = value;
        max = Math.max(max, value);
      }
    });
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return { max: max || Number.NaN, last };
    },
  };
}

import { readdir, readFile } from 'node:fs/promises';

/**
 * CPU time and resident memory of a process and all its descendants, from /proc (Linux). Used by the
 * benchmarks to count exactly one service's process tree (e.g. the recorder: node, Chromium and its
 * renderers, ffmpeg), not the synthetic participants beside it.
 */

const CLOCK_TICKS_PER_S = 100; // sysconf(_SC_CLK_TCK) on Linux x86_64
const PAGE_BYTES = 4096;

interface ProcStat {
  pid: number;
  ppid: number;
  cpuTicks: number;
  rssPages: number;
}

async function readStat(pid: number): Promise<ProcStat | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may contain spaces: split after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return {
      pid,
      ppid: Number(fields[1]),
      cpuTicks: Number(fields[11]) + Number(fields[12]),
      rssPages: Number(fields[21]),
    };
  } catch {
    return undefined;
  }
}

export interface TreeUsage {
  cpuSeconds: number;
  rssBytes: number;
  processes: number;
}

export async function processTreeUsage(rootPid: number): Promise<TreeUsage> {
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number);
  const stats = (await Promise.all(pids.map(readStat))).filter((s): s is ProcStat => s !== undefined);
  const children = new Map<number, ProcStat[]>();
  for (const stat of stats) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), stat]);
  const root = stats.find((s) => s.pid === rootPid);
  if (!root) return { cpuSeconds: 0, rssBytes: 0, processes: 0 };
  let cpuTicks = 0;
  let rssPages = 0;
  let processes = 0;
  const stack = [root];
  while (stack.length > 0) {
    const current = stack.pop()!;
    cpuTicks += current.cpuTicks;
    rssPages += current.rssPages;
    processes++;
    stack.push(...(children.get(current.pid) ?? []));
  }
  return { cpuSeconds: cpuTicks / CLOCK_TICKS_PER_S, rssBytes: rssPages * PAGE_BYTES, processes };
}

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

/** What a process of a recorder's tree is, from its command line (Chromium names its children by --type). */
export function processRole(cmdline: string[]): string {
  const exe = (cmdline[0] ?? '').split('/').pop() ?? '';
  if (exe === 'ffmpeg') return 'ffmpeg';
  if (exe === 'node' || exe.startsWith('node')) return 'node';
  const type = cmdline.find((arg) => arg.startsWith('--type='))?.slice(7);
  if (!type) return exe.includes('chrom') ? 'browser' : exe;
  if (type === 'utility') {
    const sub = cmdline.find((arg) => arg.startsWith('--utility-sub-type='))?.slice(19) ?? 'other';
    if (sub.startsWith('network.')) return 'network-service';
    if (sub.startsWith('audio.')) return 'audio-service';
    if (sub.startsWith('storage.')) return 'storage-service';
    return `utility:${sub}`;
  }
  if (type === 'gpu-process') return 'gpu';
  return type; // renderer, zygote, …
}

async function readCmdline(pid: number): Promise<string[]> {
  try {
    const args = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
    // Chromium rewrites its children's titles into one space-separated string.
    return args.length === 1 ? args[0]!.split(' ') : args;
  } catch {
    return [];
  }
}

export interface ProcessSample {
  pid: number;
  role: string;
  cpuSeconds: number;
  rssBytes: number;
}

/** Every process of the tree with its role, CPU and RSS now (for per-process profiles of a window). */
export async function processTreeSamples(rootPid: number): Promise<ProcessSample[]> {
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number);
  const stats = (await Promise.all(pids.map(readStat))).filter((s): s is ProcStat => s !== undefined);
  const children = new Map<number, ProcStat[]>();
  for (const stat of stats) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), stat]);
  const root = stats.find((s) => s.pid === rootPid);
  if (!root) return [];
  const tree: ProcStat[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const current = stack.pop()!;
    tree.push(current);
    stack.push(...(children.get(current.pid) ?? []));
  }
  return Promise.all(
    tree.map(async (s) => ({ pid: s.pid, role: processRole(await readCmdline(s.pid)), cpuSeconds: s.cpuTicks / CLOCK_TICKS_PER_S, rssBytes: s.rssPages * PAGE_BYTES })),
  );
}

/**
 * CPU seconds per role spent between two samples of one tree. Processes present in both count their
 * difference; processes born in between count all their CPU (they started inside the window).
 */
export function cpuByRole(before: ProcessSample[], after: ProcessSample[]): Record<string, number> {
  const start = new Map(before.map((s) => [s.pid, s.cpuSeconds]));
  const byRole: Record<string, number> = {};
  for (const s of after) {
    const spent = s.cpuSeconds - (start.get(s.pid) ?? 0);
    byRole[s.role] = Number(((byRole[s.role] ?? 0) + spent).toFixed(2));
  }
  return byRole;
}

export interface ThreadSample {
  key: string;
  cpuSeconds: number;
}

/** CPU of every thread of the tree, keyed `role/thread-name/tid` (thread names say what Chromium's threads do). */
export async function processTreeThreads(rootPid: number): Promise<ThreadSample[]> {
  const samples: ThreadSample[] = [];
  for (const proc of await processTreeSamples(rootPid)) {
    let tids: string[] = [];
    try {
      tids = await readdir(`/proc/${proc.pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        const text = await readFile(`/proc/${proc.pid}/task/${tid}/stat`, 'utf8');
        const name = text.slice(text.indexOf('(') + 1, text.lastIndexOf(')'));
        const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
        samples.push({ key: `${proc.role}/${name}/${tid}`, cpuSeconds: (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S });
      } catch {
        // thread ended
      }
    }
  }
  return samples;
}

/** CPU seconds per `role/thread-name` between two thread samples, largest first, threads under 0.05 s left out. */
export function cpuByThread(before: ThreadSample[], after: ThreadSample[]): Record<string, number> {
  const start = new Map(before.map((s) => [s.key, s.cpuSeconds]));
  const byName = new Map<string, number>();
  for (const s of after) {
    const name = s.key.slice(0, s.key.lastIndexOf('/'));
    byName.set(name, (byName.get(name) ?? 0) + s.cpuSeconds - (start.get(s.key) ?? 0));
  }
  return Object.fromEntries([...byName].filter(([, v]) => v >= 0.05).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, Number(v.toFixed(2))]));
}

/**
 * Proportional set size of the tree (Linux smaps_rollup): pages shared between processes — Chromium's
 * processes share much — are split between them instead of counted in full by each, as RSS does.
 */
export async function processTreePssBytes(rootPid: number): Promise<number> {
  let total = 0;
  for (const proc of await processTreeSamples(rootPid)) {
    try {
      const text = await readFile(`/proc/${proc.pid}/smaps_rollup`, 'utf8');
      const match = /^Pss:\s+(\d+) kB/m.exec(text);
      if (match) total += Number(match[1]) * 1024;
    } catch {
      // process ended
    }
  }
  return total;
}

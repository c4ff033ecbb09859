import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';

/**
 * Child processes of a benchmark bundle: the same bundle started again with CHAPERONE_BENCH_ROLE=<role>
 * (an s3rver, or a service's production entry point), so a service is measured in a process of its own.
 * `bundleFile` is the bundle's own path (fileURLToPath(import.meta.url) in the benchmark file).
 */
export async function startBenchChild(
  bundleFile: string,
  role: string,
  env: Record<string, string>,
  ready: (line: string) => boolean,
  nodeFlags: readonly string[] = [],
): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...nodeFlags, bundleFile], { env: { ...process.env, ...env, CHAPERONE_BENCH_ROLE: role }, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => ready(line) && resolve());
    child.once('exit', (code) => reject(new Error(`${role} child exited (${code}) before it was ready`)));
  });
  return child;
}

export async function stopBenchChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

const CLOCK_TICKS_PER_S = 100; // Linux USER_HZ

/** utime + stime of a process, ms (/proc/<pid>/stat fields 14 and 15, counted after the command name). */
export async function processCpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
}

/** Peak RSS (VmHWM) of a process, MiB. */
export async function processPeakRssMib(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

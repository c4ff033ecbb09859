import { spawn, type ChildProcess } from 'node:child_process';

/**
 * A child process the stack owns: started with an explicit argument list, its output kept in a bounded
 * ring (for failure reports, never printed by default), readiness awaited on a log line or a probe, and
 * stopped with SIGTERM then SIGKILL. States: starting → running → stopped | exited.
 */
export interface ManagedProcessOptions {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Resolves start() once a line of output matches. */
  readyLine?: RegExp;
  readyTimeoutMs?: number;
}

export type ManagedProcessState = 'starting' | 'running' | 'stopped' | 'exited';

export class ManagedProcessError extends Error {
  constructor(
    readonly code: 'start-timeout' | 'exited-early' | 'spawn-failed',
    message: string,
    readonly recentOutput: string,
  ) {
    super(message);
    this.name = 'ManagedProcessError';
  }
}

const OUTPUT_LINES_KEPT = 400;

export class ManagedProcess {
  state: ManagedProcessState = 'starting';
  private child: ChildProcess | undefined;
  private readonly lines: string[] = [];
  private readonly lineWaiters: Array<{ re: RegExp; resolve: (line: string) => void }> = [];
  private exitPromise: Promise<number | null> | undefined;

  constructor(private readonly options: ManagedProcessOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  recentOutput(): string {
    return this.lines.join('\n');
  }

  async start(): Promise<void> {
    const { name, command, args, env, cwd, readyLine, readyTimeoutMs = 15000 } = this.options;
    const child = spawn(command, args, { env: env ?? process.env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.exitPromise = new Promise((resolve) => {
      child.once('exit', (code) => {
        if (this.state !== 'stopped') this.state = 'exited';
        resolve(code);
      });
      child.once('error', () => resolve(null));
    });
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        this.lines.push(line);
        if (this.lines.length > OUTPUT_LINES_KEPT) this.lines.shift();
        for (const waiter of [...this.lineWaiters]) {
          if (waiter.re.test(line)) {
            this.lineWaiters.splice(this.lineWaiters.indexOf(waiter), 1);
            waiter.resolve(line);
          }
        }
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    if (!readyLine) {
      this.state = 'running';
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.waitForLine(readyLine),
        this.exitPromise.then((code) => {
          throw new ManagedProcessError('exited-early', `${name} exited (code ${code}) before it was ready`, this.recentOutput());
        }),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new ManagedProcessError('start-timeout', `${name} was not ready within ${readyTimeoutMs} ms`, this.recentOutput())),
            readyTimeoutMs,
          );
        }),
      ]);
    } catch (error) {
      await this.stop();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    this.state = 'running';
  }

  waitForLine(re: RegExp): Promise<string> {
    const seen = this.lines.find((line) => re.test(line));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.lineWaiters.push({ re, resolve }));
  }

  /** Sends a signal without waiting (used by crash tests: SIGKILL). */
  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }

  async stop(graceMs = 3000): Promise<void> {
    const child = this.child;
    if (!child || this.state === 'stopped' || this.state === 'exited' || child.exitCode !== null) {
      this.state = this.state === 'exited' ? 'exited' : 'stopped';
      return;
    }
    this.state = 'stopped';
    child.kill('SIGTERM');
    const killTimer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.exitPromise;
    clearTimeout(killTimer);
  }
}

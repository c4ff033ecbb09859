import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManagedProcess } from './managed-process.js';

/**
 * A private Redis (Debian's redis-server) for BullMQ in tests and the demo: loopback only, its own port
 * and directory, `maxmemory-policy noeviction` (BullMQ requires it: an evicted key is a lost job), and
 * AOF with `appendfsync everysec` so jobs survive a restart of the server.
 */
export interface RedisServer {
  url: string;
  port: number;
  dir: string;
  process: ManagedProcess;
  /** Stops the server but keeps its directory (to restart on the same data). */
  kill(signal?: NodeJS.Signals): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedisServer(options: { port: number; dir?: string }): Promise<RedisServer> {
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'chaperone-redis-')));
  const proc = new ManagedProcess({
    name: 'redis',
    command: '/usr/bin/redis-server',
    args: [
      '--bind', '127.0.0.1',
      '--port', String(options.port),
      '--dir', dir,
      '--save', '',
      '--appendonly', 'yes',
      '--appendfsync', 'everysec',
      '--maxmemory-policy', 'noeviction',
      '--protected-mode', 'yes',
    ],
    readyLine: /Ready to accept connections/,
  });
  await proc.start();
  return {
    url: `redis://127.0.0.1:${options.port}`,
    port: options.port,
    dir,
    process: proc,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      proc.signal(signal);
      await proc.stop(2000);
    },
    async stop() {
      await proc.stop();
      if (!options.dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

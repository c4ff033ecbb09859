import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ManagedProcess } from './managed-process.js';

/**
 * A throwaway PostgreSQL 15 cluster (Debian's binaries) in its own data directory on its own port, for
 * tests and the demo. PostgreSQL refuses to run as root, so when we are root the cluster runs as the
 * `postgres` system user. Data is fsync-off and deleted on stop: this is never the production database.
 */

const PG_BIN = process.env.CHAPERONE_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const run = promisify(execFile);

export interface PostgresServer {
  /** postgres://chaperone@127.0.0.1:<port>/chaperone — trust auth on loopback, development only. */
  url: string;
  port: number;
  process: ManagedProcess;
  stop(): Promise<void>;
}

async function systemUser(name: string): Promise<{ uid: number; gid: number } | undefined> {
  try {
    const { stdout: uid } = await run('id', ['-u', name]);
    const { stdout: gid } = await run('id', ['-g', name]);
    return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
  } catch {
    return undefined;
  }
}

export async function startPostgresServer(options: { port: number; database?: string; user?: string }): Promise<PostgresServer> {
  const { port, database = 'chaperone', user = 'chaperone' } = options;
  const dir = await mkdtemp(join(tmpdir(), 'chaperone-pg-'));
  const dataDir = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  const owner = asRoot ? await systemUser('postgres') : undefined;
  if (asRoot && !owner) throw new Error('running as root needs the postgres system user (apt-get install postgresql)');
  const wrap = (command: string, args: string[]): [string, string[]] =>
    owner ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
  if (owner) await chown(dir, owner.uid, owner.gid);
  const [initCmd, initArgs] = wrap(`${PG_BIN}/initdb`, ['-D', dataDir, '-U', user, '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C.UTF-8']);
  await run(initCmd, initArgs);
  await writeFile(join(dataDir, 'postgresql.auto.conf'), `fsync = off\nsynchronous_commit = off\nfull_page_writes = off\ntimezone = 'UTC'\n`);
  const [cmd, args] = wrap(`${PG_BIN}/postgres`, ['-D', dataDir, '-p', String(port), '-h', '127.0.0.1', '-k', dir]);
  const proc = new ManagedProcess({ name: 'postgres', command: cmd, args, readyLine: /database system is ready to accept connections/, readyTimeoutMs: 30000 });
  await proc.start();
  const [createCmd, createArgs] = wrap(`${PG_BIN}/createdb`, ['-h', '127.0.0.1', '-p', String(port), '-U', user, database]);
  await run(createCmd, createArgs);
  return {
    url: `postgres://${user}@127.0.0.1:${port}/${database}`,
    port,
    process: proc,
    async stop() {
      await proc.stop(10000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

import { Writable } from 'node:stream';
import { runChaperone } from '../chaperone.js';

/**
 * Runs `chaperone <args>` in this process with `env`, capturing what it writes (for tests and tools that
 * drive the CLI): the exit code, stdout and stderr as text.
 */
export async function runChaperoneCaptured(env: NodeJS.ProcessEnv, args: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const stdout = new Writable({ write: (c, _e, cb) => ((out += c), cb()) });
  const stderr = new Writable({ write: (c, _e, cb) => ((err += c), cb()) });
  const code = await runChaperone(args, { stdout, stderr, env });
  return { code, out, err };
}

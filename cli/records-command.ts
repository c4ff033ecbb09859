import type { SealConfig, BuiltServices } from '../queue/config.js';
import { systemClock } from '../records/lifecycle/clock.js';
import type { DeletionDeps } from '../records/lifecycle/deletion.js';
import { LifecycleError } from '../records/lifecycle/errors.js';
import type { Principal } from '../records/principal.js';
import { EXIT_FAILED, EXIT_USAGE, type CliIo } from './command.js';
import { openCliSealServices } from './seal-services.js';
import { staffPrincipal } from './staff-principal.js';

/**
 * What the records-staff commands (hold, release, delete, export) share: argument parsing that refuses
 * unknown options, the pipeline's configuration (--config / $CHAPERONE_SEAL_CONFIG), the caller's verified
 * platform identity (--token-file / $CHAPERONE_STAFF_TOKEN_FILE), and one way to report a refusal:
 * "chaperone <command>: <CODE> — <what to do>" on stderr, exit 1 (refused or failed) or 2 (bad input).
 */

export interface ParsedArgs {
  positional: string[];
  values: Map<string, string>;
  flags: Set<string>;
}

export function parseArgs(args: readonly string[], spec: { values: readonly string[]; flags?: readonly string[] }): ParsedArgs | string {
  const parsed: ParsedArgs = { positional: [], values: new Map(), flags: new Set() };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (spec.values.includes(arg)) {
      const value = args[++i];
      if (value === undefined || value.startsWith('--')) return `${arg} needs a value`;
      parsed.values.set(arg, value);
    } else if (spec.flags?.includes(arg)) parsed.flags.add(arg);
    else if (arg.startsWith('-')) return `unknown option ${arg}`;
    else parsed.positional.push(arg);
  }
  return parsed;
}

export interface RecordsContext {
  principal: Principal;
  config: SealConfig;
  built: BuiltServices;
  deletion: DeletionDeps;
}

export function usageError(io: CliIo, command: string, usage: string, problem: string): number {
  io.stderr.write(`chaperone ${command}: ${problem}\nusage: ${usage}\n`);
  return EXIT_USAGE;
}

export async function withRecords(io: CliIo, command: string, parsed: ParsedArgs, fn: (ctx: RecordsContext) => Promise<number>): Promise<number> {
  const principal = await staffPrincipal(io, command, parsed.values.get('--token-file'));
  if (!principal) return EXIT_USAGE;
  const opened = await openCliSealServices(io, command, parsed.values.get('--config'));
  if (typeof opened === 'number') return opened;
  const { config, built } = opened;
  const deletion: DeletionDeps = {
    pool: built.services.pool,
    // Development (s3rver) has no ListObjectVersions; production refuses to delete without it.
    purge: { s3: built.s3, bucket: config.s3.bucket, allowUnlistableVersions: config.mode !== 'production' },
    clock: systemClock,
    logger: built.services.logger,
  };
  try {
    return await fn({ principal, config, built, deletion });
  } catch (error) {
    if (error instanceof LifecycleError) {
      io.stderr.write(`chaperone ${command}: ${error.code} — ${error.message}\n`);
      return error.code === 'CHAP_RECORDS_BAD_INPUT' ? EXIT_USAGE : EXIT_FAILED;
    }
    throw error;
  } finally {
    await built.close();
  }
}

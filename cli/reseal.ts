import { ID_PATTERN } from '../queue/jobs.js';
import { SealError } from '../queue/errors.js';
import { resealRecording } from '../queue/reseal.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, type CliCommand } from './command.js';
import { cliActor, openCliSealServices } from './seal-services.js';

/**
 * `chaperone reseal <recordingId> [--config <file>]`: runs a failed recording's sealing flow again, after
 * the cause of its permanent failure is fixed (the failure code says what to fix: e.g. grant the pipeline
 * role kms:GenerateDataKey). Work already done is not repeated. Exit 0: the flow was added again (watch it
 * with `chaperone verify`); 1: refused, with the reason; 2: usage or configuration. Audited.
 */
export const resealCommand: CliCommand = {
  name: 'reseal',
  summary: 'seal a failed recording again, once the cause of its failure is fixed',
  usage: 'chaperone reseal <recordingId> [--config <seal-config.json>]  (default config: $CHAPERONE_SEAL_CONFIG)',
  async run(args, io) {
    let configPath: string | undefined;
    const positional: string[] = [];
    for (let i = 0; i < args.length; i++) {
      const arg = args[i]!;
      if (arg === '--config') configPath = args[++i];
      else if (arg.startsWith('-')) {
        io.stderr.write(`chaperone reseal: unknown option ${arg}\nusage: ${this.usage}\n`);
        return EXIT_USAGE;
      } else positional.push(arg);
    }
    const [recordingId] = positional;
    if (positional.length !== 1 || !recordingId || !ID_PATTERN.test(recordingId)) {
      io.stderr.write(`chaperone reseal: give exactly one recording id (letters, digits, _ or -)\nusage: ${this.usage}\n`);
      return EXIT_USAGE;
    }
    const opened = await openCliSealServices(io, 'reseal', configPath);
    if (typeof opened === 'number') return opened;
    const { config, built } = opened;
    try {
      const result = await resealRecording(
        { pool: built.services.pool, redis: config.redis, spool: built.services.spool, actor: cliActor() },
        recordingId,
      );
      io.stdout.write(
        `recording ${recordingId}: sealing again (previous failure ${result.previousFailure ?? 'unknown'}); ` +
          `${result.segmentsToSeal} segment(s) to seal, ${result.segmentsAlreadyVerified} already verified.\n` +
          `Follow it with: chaperone verify ${recordingId}\n`,
      );
      return EXIT_OK;
    } catch (error) {
      if (error instanceof SealError) {
        io.stdout.write(`recording ${recordingId}: not re-sealed — ${error.message} (${error.code})\n`);
        return EXIT_FAILED;
      }
      throw error;
    } finally {
      await built.close();
    }
  },
};

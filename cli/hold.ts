import { systemClock } from '../records/lifecycle/clock.js';
import { placeHold, releaseHold } from '../records/lifecycle/legal-hold.js';
import { EXIT_OK, type CliCommand } from './command.js';
import { parseArgs, usageError, withRecords } from './records-command.js';

/**
 * `chaperone hold <recordingId> --reason "<matter and basis>"` and `chaperone release <recordingId>
 * --reason "<why it ends>"`: place or lift a legal hold (records officers only; the token decides). A
 * held recording is deleted by nothing — not the retention sweep, not a deletion request — until
 * released. The reason stays in the catalog; the audit log records its SHA-256.
 */
const COMMON = '[--token-file <platform token>] [--config <seal-config.json>]';

function holdCommand(name: 'hold' | 'release'): CliCommand {
  const usage = `chaperone ${name} <recordingId> --reason "<10-500 characters: matter or request, never patient details>" ${COMMON}`;
  return {
    name,
    summary: name === 'hold' ? 'place a legal hold: nothing deletes the recording until it is released' : 'release the legal hold on a recording',
    usage,
    async run(args, io) {
      const parsed = parseArgs(args, { values: ['--reason', '--token-file', '--config'] });
      if (typeof parsed === 'string') return usageError(io, name, usage, parsed);
      if (parsed.positional.length !== 1) return usageError(io, name, usage, 'give exactly one recording id');
      if (!parsed.values.has('--reason')) return usageError(io, name, usage, `--reason is required: say why the ${name === 'hold' ? 'hold is placed' : 'hold ends'}`);
      return withRecords(io, name, parsed, async ({ principal, built }) => {
        const deps = { pool: built.services.pool, clock: systemClock };
        const input = { recordingId: parsed.positional[0], reason: parsed.values.get('--reason') };
        const hold = name === 'hold' ? await placeHold(deps, principal, input) : await releaseHold(deps, principal, input);
        io.stdout.write(
          name === 'hold'
            ? `recording ${hold.recordingId}: on legal hold ${hold.holdId} (placed by ${hold.placedBy.id}); retention deletion and deletion on request are blocked until released\n`
            : `recording ${hold.recordingId}: legal hold ${hold.holdId} released by ${principal.subject}; the retention clock applies again\n`,
        );
        return EXIT_OK;
      });
    },
  };
}

export const holdPlaceCommand = holdCommand('hold');
export const holdReleaseCommand = holdCommand('release');

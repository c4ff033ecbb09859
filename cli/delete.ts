import { requireAllowed } from '../records/lifecycle/authorization.js';
import { getDeletion, requestDeletion, runDeletion } from '../records/lifecycle/deletion.js';
import { DELETION_REASON_CODES } from '../records/lifecycle/input.js';
import { EXIT_OK, type CliCommand } from './command.js';
import { parseArgs, usageError, withRecords } from './records-command.js';

/**
 * `chaperone delete <recordingId> [--track <trackId>] --reason-code <code> --reason "<text>"`: deletes a
 * whole recording, or one participant's track, everywhere: data keys destroyed (every copy, backups
 * included, becomes unreadable), every object version and delete marker removed, derivatives removed, a
 * tombstone kept. Refused while on legal hold. Interrupted (S3 away, Ctrl-C)? Run the same command again,
 * or `chaperone delete --resume <deletionId>`: it continues where it stopped. Progress on stderr.
 */
const CODES = DELETION_REASON_CODES.filter((c) => c !== 'retention-expired');
const usage = `chaperone delete <recordingId> [--track <trackId>] --reason-code <${CODES.join('|')}> --reason "<10-500 characters>" [--token-file <file>] [--config <file>]
       chaperone delete --resume <deletionId> [--token-file <file>] [--config <file>]`;

export const deleteCommand: CliCommand = {
  name: 'delete',
  summary: 'delete a recording or one track: keys destroyed, every object version purged, tombstone kept',
  usage,
  async run(args, io) {
    const parsed = parseArgs(args, { values: ['--track', '--reason-code', '--reason', '--resume', '--token-file', '--config'] });
    if (typeof parsed === 'string') return usageError(io, 'delete', usage, parsed);
    const resume = parsed.values.get('--resume');
    if (resume === undefined && parsed.positional.length !== 1) return usageError(io, 'delete', usage, 'give exactly one recording id');
    if (resume === undefined && (!parsed.values.has('--reason-code') || !parsed.values.has('--reason'))) return usageError(io, 'delete', usage, '--reason-code and --reason are required');
    return withRecords(io, 'delete', parsed, async ({ principal, deletion: deps }) => {
      const progress = {
        ...deps,
        logger: {
          ...deps.logger,
          info: (context: Record<string, unknown>, message: string) => io.stderr.write(`${message}${context.removed !== undefined ? ` (${String(context.removed)} object versions)` : ''}\n`),
          warn: (_context: Record<string, unknown>, message: string) => io.stderr.write(`${message}\n`),
          error: deps.logger.error.bind(deps.logger),
          child: () => progress.logger,
        },
      };
      let deletionId: string;
      if (resume !== undefined) {
        const existing = await getDeletion(deps.pool, resume);
        if (!existing) return usageError(io, 'delete', usage, `no deletion ${resume} (the id is printed when a deletion is requested)`);
        // Finishing a deletion is a deletion: the same permission as requesting it.
        await requireAllowed(deps.pool, principal, 'delete', existing.recordingId, existing.trackId);
        deletionId = existing.deletionId;
      } else {
        const request = { recordingId: parsed.positional[0], trackId: parsed.values.get('--track'), reasonCode: parsed.values.get('--reason-code'), reason: parsed.values.get('--reason') };
        const { deletion, created } = await requestDeletion(deps, principal, request);
        io.stderr.write(`${created ? 'deletion requested' : 'deletion already on record'}: ${deletion.deletionId} (${deletion.state})\n`);
        deletionId = deletion.deletionId;
      }
      const done = await runDeletion(progress, deletionId).catch(async (error: unknown) => {
        io.stderr.write(`interrupted — resume with: chaperone delete --resume ${deletionId}\n`);
        throw error;
      });
      io.stdout.write(`${done.scope === 'track' ? `track ${done.trackId} of recording` : 'recording'} ${done.recordingId}: deleted (deletion ${done.deletionId}; keys destroyed, objects purged, tombstone written)\n`);
      return EXIT_OK;
    });
  },
};


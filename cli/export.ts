import { createWriteStream } from 'node:fs';
import { readFile, rename, rm } from 'node:fs/promises';
import { finished } from 'node:stream/promises';
import { systemClock } from '../records/lifecycle/clock.js';
import { exportBundle, type ExportProgress } from '../records/export/export-bundle.js';
import { EXIT_OK, EXIT_USAGE, type CliCommand } from './command.js';
import { parseArgs, usageError, withRecords } from './records-command.js';

/**
 * `chaperone export <recordingId> --recipient-key <public.pem> --out <file.tar> [--participant <id> |
 * --whole-recording]`: the right-of-access bundle (records/export/export-bundle.ts), encrypted to the
 * recipient's RSA public key. Every object is read back and checked against the signed manifest first
 * (progress on stderr), then streamed into the bundle; the file appears under its name only when complete
 * (written as <file>.partial, renamed at the end, removed on any failure). The recipient opens it with
 * the DECRYPT.txt inside, using OpenSSL.
 */
const usage =
  'chaperone export <recordingId> --recipient-key <recipient-public.pem> --out <bundle.tar> [--participant <participantId> | --whole-recording] [--token-file <file>] [--config <file>]';

export const exportCommand: CliCommand = {
  name: 'export',
  summary: "right of access: a patient's tracks (or the whole recording), verified, encrypted to the recipient's key",
  usage,
  async run(args, io) {
    const parsed = parseArgs(args, { values: ['--recipient-key', '--out', '--participant', '--token-file', '--config'], flags: ['--whole-recording'] });
    if (typeof parsed === 'string') return usageError(io, 'export', usage, parsed);
    if (parsed.positional.length !== 1) return usageError(io, 'export', usage, 'give exactly one recording id');
    const keyFile = parsed.values.get('--recipient-key');
    const out = parsed.values.get('--out');
    if (!keyFile || !out) return usageError(io, 'export', usage, '--recipient-key and --out are required (the recipient makes a key with: openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out key.pem; openssl pkey -in key.pem -pubout -out public.pem)');
    if (parsed.flags.has('--whole-recording') && parsed.values.has('--participant')) return usageError(io, 'export', usage, 'give --participant or --whole-recording, not both');
    let recipientPublicKey: string;
    try {
      recipientPublicKey = await readFile(keyFile, 'utf8');
    } catch {
      return usageError(io, 'export', usage, `cannot read the recipient key ${keyFile}`);
    }
    return withRecords(io, 'export', parsed, async ({ principal, built }) => {
      const services = built.services;
      const partial = `${out}.partial`;
      const file = createWriteStream(partial, { flags: 'wx', mode: 0o600 });
      const opened = new Promise<void>((resolve, reject) => file.once('open', () => resolve()).once('error', reject));
      try {
        await opened;
      } catch (error) {
        io.stderr.write(`chaperone export: cannot create ${partial} (${(error as NodeJS.ErrnoException).code}): choose another --out or remove the leftover file\n`);
        return EXIT_USAGE;
      }
      const progress = (p: ExportProgress) => io.stderr.write(`${p.phase === 'checking' ? 'checking against the manifest' : 'writing'} segment ${p.segmentIndex + 1}/${p.segmentCount} (${p.trackId} #${p.segmentNo})\n`);
      try {
        const result = await exportBundle(
          { pool: services.pool, store: services.store, keyRoot: services.keyRoot, trustedSignerKeys: [await services.signer.publicKeySpki()], clock: systemClock, logger: services.logger },
          principal,
          {
            recordingId: parsed.positional[0],
            scope: parsed.flags.has('--whole-recording') ? 'recording' : 'participant',
            ...(parsed.values.has('--participant') ? { participantId: parsed.values.get('--participant') } : {}),
            recipientPublicKey,
          },
          file,
          progress,
        );
        file.end();
        await finished(file);
        await rename(partial, out);
        io.stdout.write(
          `${out}: export of recording ${result.recordingId} (${result.tracks.join(', ')}; ${result.segments} segment(s)${result.deletedTracks.length ? `; deleted and left out: ${result.deletedTracks.join(', ')}` : ''})\n` +
            `  SHA-256 ${result.bundleSha256}, ${result.bundleBytes} bytes, for the key with fingerprint ${result.recipientKeySha256}\n` +
            '  the recipient opens it with the DECRYPT.txt inside (OpenSSL), then checks it with README.txt\n',
        );
        return EXIT_OK;
      } catch (error) {
        file.destroy();
        await rm(partial, { force: true });
        throw error;
      }
    });
  },
};

import { ID_PATTERN } from '../queue/jobs.js';
import { deletedParts } from '../records/lifecycle/tombstone.js';
import { verifyRecording, type VerifyProgress, type VerifyReport } from '../queue/verify-recording.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, type CliCommand, type CliIo } from './command.js';
import { cliActor, openCliSealServices } from './seal-services.js';

/**
 * `chaperone verify <recordingId> [--json] [--config <file>]`: re-reads every object of a sealed
 * recording, decrypts it (through the configured key root), checks its plaintext and ciphertext SHA-256
 * and sizes against the signed manifest, checks the manifest's signature and that the signing key is the
 * configured one, and the encrypted manifest copy. Progress goes to stderr (a live line on a terminal,
 * at most one line per 10 % otherwise); the report goes to stdout. Exit 0: verified; 1: not; 2: usage or
 * configuration. The check is recorded in the audit log.
 */

const MiB = 1024 * 1024;
const mib = (bytes: number) => (bytes < MiB ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / MiB).toFixed(1)} MiB`);

function progressPrinter(io: CliIo): (p: VerifyProgress) => void {
  const tty = io.stderr.isTTY === true;
  let lastDecile = -1;
  let lastSegment = -1;
  return (p) => {
    const overall = p.allBytesTotal === 0 ? 100 : Math.floor((p.allBytesDone / p.allBytesTotal) * 100);
    const line = `verifying segment ${p.segmentIndex + 1}/${p.segmentCount} (${p.trackId} #${p.segmentNo}) ${mib(p.bytesDone)} of ${mib(p.bytesTotal)} — ${overall}% overall`;
    if (tty) {
      io.stderr.write(`\r\x1b[2K${line}`);
      return;
    }
    const decile = Math.floor(overall / 10);
    if (decile !== lastDecile || p.segmentIndex !== lastSegment) {
      lastDecile = decile;
      lastSegment = p.segmentIndex;
      io.stderr.write(`${line}\n`);
    }
  };
}

export function formatReport(report: VerifyReport): string {
  const lines = [`recording ${report.recordingId}: ${report.ok ? 'VERIFIED' : 'FAILED'}${report.deleted ? ` — DELETED (deletion ${report.deleted.deletionId}, ${new Date(report.deleted.deletedAtMs).toISOString()}): its objects are confirmed gone` : ''}`];
  if (report.state) lines.push(`  state: ${report.state}`);
  const m = report.manifest;
  if (report.state === 'sealed') {
    const trust = m.trusted === undefined ? 'trust not judged' : m.trusted ? 'signed by the configured key' : 'signed by an UNTRUSTED key';
    lines.push(`  manifest: ${m.valid ? 'signature valid' : 'INVALID'} (key ${m.keyId ?? 'unknown'}; ${trust}); SHA-256 ${m.sha256 ?? '-'}`);
    for (const problem of m.problems) lines.push(`    - ${problem}`);
    lines.push(`  manifest copy in S3: ${report.manifestCopy.ok ? 'matches' : `PROBLEM — ${report.manifestCopy.problem}`}`);
  }
  if (report.segments.length > 0) lines.push('  segments:');
  for (const s of report.segments) {
    if (s.deleted) {
      lines.push(`    ${s.ok ? 'del ' : 'FAIL'}  track ${s.trackId} segment ${s.segmentNo}  deleted per tombstone ${s.deleted.deletionId} (${new Date(s.deleted.deletedAtMs).toISOString()})${s.ok ? '; object gone' : ''}`);
    } else lines.push(`    ${s.ok ? 'ok  ' : 'FAIL'}  track ${s.trackId} segment ${s.segmentNo}  ${mib(s.plaintextBytes)}  ${s.objectKey}`);
    for (const problem of s.problems) lines.push(`          - ${problem}`);
  }
  for (const problem of report.problems) lines.push(`  problem: ${problem}`);
  const failed = report.segments.filter((s) => !s.ok);
  lines.push(`  ${report.totals.segments} segment(s), ${mib(report.totals.plaintextBytes)} of media re-read and decrypted${failed.length ? `; failed: ${failed.map((s) => `${s.trackId}#${s.segmentNo}`).join(', ')}` : ''}`);
  return `${lines.join('\n')}\n`;
}

export const verifyCommand: CliCommand = {
  name: 'verify',
  summary: 're-read, decrypt and check every object and the signed manifest of a recording',
  usage: 'chaperone verify <recordingId> [--json] [--config <seal-config.json>]  (default config: $CHAPERONE_SEAL_CONFIG)',
  async run(args, io) {
    let json = false;
    let configPath: string | undefined;
    const positional: string[] = [];
    for (let i = 0; i < args.length; i++) {
      const arg = args[i]!;
      if (arg === '--json') json = true;
      else if (arg === '--config') configPath = args[++i];
      else if (arg.startsWith('-')) {
        io.stderr.write(`chaperone verify: unknown option ${arg}\nusage: ${this.usage}\n`);
        return EXIT_USAGE;
      } else positional.push(arg);
    }
    const [recordingId] = positional;
    if (positional.length !== 1 || !recordingId || !ID_PATTERN.test(recordingId)) {
      io.stderr.write(`chaperone verify: give exactly one recording id (letters, digits, _ or -)\nusage: ${this.usage}\n`);
      return EXIT_USAGE;
    }
    const opened = await openCliSealServices(io, 'verify', configPath);
    if (typeof opened === 'number') return opened;
    const { built } = opened;
    try {
      const { services } = built;
      const report = await verifyRecording(
        {
          db: services.pool,
          store: services.store,
          keyRoot: services.keyRoot,
          trustedSignerKeys: [await services.signer.publicKeySpki()],
          auditActor: cliActor(),
          // Deleted tracks (or a deleted recording) are reported as deleted per their tombstone, not failed.
          deletions: (id) => deletedParts(services.pool, id),
        },
        recordingId,
        progressPrinter(io),
      );
      if (io.stderr.isTTY) io.stderr.write('\n');
      io.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
      return report.ok ? EXIT_OK : EXIT_FAILED;
    } finally {
      await built.close();
    }
  },
};

import { verifyAuditChain } from '../audit/index.js';
import { EXIT_FAILED, EXIT_OK, type CliCommand } from './command.js';
import { parseArgs, usageError } from './records-command.js';
import { openCliSealServices } from './seal-services.js';

/**
 * `chaperone audit verify [--anchor <seq>:<rowHash>]... [--json]`: recomputes the whole hash-chained audit
 * log (audit/hash-chain.ts) and reports altered rows, removed rows and broken links. Prints the head
 * (seq and row hash): record it somewhere the database's administrators cannot write (a ticket, a WORM
 * object) and pass it back as --anchor next time, which also catches removal of the newest rows.
 * Exit 0: intact; 1: problems found; 2: usage or configuration.
 */
const usage = 'chaperone audit verify [--anchor <seq>:<rowHash hex>] [--json] [--config <seal-config.json>]';

export const auditCommand: CliCommand = {
  name: 'audit',
  summary: 'audit verify: recompute the hash-chained audit log and report any altered or removed row',
  usage,
  async run(args, io) {
    const [sub, ...rest] = args;
    if (sub !== 'verify') return usageError(io, 'audit', usage, sub === undefined ? 'say what to do: audit verify' : `unknown subcommand ${sub}`);
    const anchors: Array<{ seq: bigint; rowHash: string }> = [];
    const values: string[] = [];
    for (let i = 0; i < rest.length; i++) {
      if (rest[i] === '--anchor') {
        const m = /^(\d{1,18}):([0-9a-f]{64})$/.exec(rest[i + 1] ?? '');
        if (!m) return usageError(io, 'audit', usage, '--anchor must be <seq>:<64 hex row hash>, as printed by an earlier audit verify');
        anchors.push({ seq: BigInt(m[1]!), rowHash: m[2]! });
        i++;
      } else values.push(rest[i]!);
    }
    const parsed = parseArgs(values, { values: ['--config'], flags: ['--json'] });
    if (typeof parsed === 'string') return usageError(io, 'audit', usage, parsed);
    if (parsed.positional.length) return usageError(io, 'audit', usage, `unexpected ${parsed.positional[0]}`);
    const opened = await openCliSealServices(io, 'audit', parsed.values.get('--config'));
    if (typeof opened === 'number') return opened;
    try {
      io.stderr.write('verifying the audit chain…\n');
      const report = await verifyAuditChain(opened.built.services.pool, { anchors });
      if (parsed.flags.has('--json')) {
        io.stdout.write(`${JSON.stringify(report, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`);
      } else {
        const lines = [`audit log: ${report.ok ? 'INTACT' : 'DAMAGED'} — ${report.rows} row(s) recomputed`];
        if (report.head) lines.push(`  head: ${report.head.seq}:${report.head.rowHash}  (keep it; pass it as --anchor next time)`);
        for (const p of report.problems) {
          const what = p.kind === 'altered' ? 'row altered after it was written' : p.kind === 'broken-link' ? 'link to the previous row broken' : p.kind === 'missing-before' ? `${p.missing} row(s) removed before it` : 'does not match the anchor given';
          lines.push(`  seq ${p.seq}: ${what}`);
        }
        if (!report.ok) lines.push('  the log was changed outside the application: keep the database as it is and escalate to the compliance officer (docs/runbook.md)');
        io.stdout.write(`${lines.join('\n')}\n`);
      }
      return report.ok ? EXIT_OK : EXIT_FAILED;
    } finally {
      await opened.built.close();
    }
  },
};

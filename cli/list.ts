import { auditAccess, RECORDS_EVENTS } from '../records/access-audit.js';
import { RecordsError } from '../records/errors.js';
import { listRecordings, MAX_PAGE, type ListedRecording, type ListFilters } from '../records/listing.js';
import { EXIT_FAILED, EXIT_OK, type CliCommand } from './command.js';
import { parseArgs, usageError } from './records-command.js';
import { openCliSealServices } from './seal-services.js';
import { staffPrincipal } from './staff-principal.js';

/**
 * `chaperone list [--room R] [--participant P] [--from T] [--to T] [--state S] [--limit N] [--all] [--json]`:
 * the catalog as the caller may see it — the same role-scoped query and row checks as the records API
 * (records/listing.ts, records/access-policy.ts), under the caller's verified platform identity
 * (--token-file / $CHAPERONE_STAFF_TOKEN_FILE), audited as `records.listed` like an API listing (refusals
 * too). T is epoch milliseconds or an ISO 8601 UTC time. `--all` follows every page (progress on
 * stderr); without it one page is printed with the cursor for the next.
 */

const USAGE =
  'chaperone list [--room <room>] [--participant <id>] [--from <time>] [--to <time>] [--state <state>] [--limit <1-100>] [--cursor <c>] [--all] [--json] [--token-file <file>] [--config <seal-config.json>]';

function time(value: string | undefined): number | undefined | 'bad' {
  if (value === undefined) return undefined;
  const ms = /^[0-9]+$/.test(value) ? Number(value) : /^\d{4}-\d{2}-\d{2}(T[0-9:.]+Z)?$/.test(value) ? Date.parse(value) : NaN;
  return Number.isSafeInteger(ms) ? ms : 'bad';
}

function line(r: ListedRecording): string {
  const tracks = r.tracks.map((t) => `${t.trackId}${t.playable ? '' : t.deleted ? '(deleted)' : '(not playable)'}`).join(',');
  return [r.recordingId, r.roomId, r.deleted ? 'deleted' : r.state, new Date(r.startedAtMs).toISOString(), `${Math.round((r.endedAtMs - r.startedAtMs) / 1000)}s`, r.playable ? 'playable' : '-', tracks].join('\t');
}

export const listCommand: CliCommand = {
  name: 'list',
  summary: 'list and search recordings you may see (role-scoped, audited)',
  usage: USAGE,
  async run(args, io) {
    const parsed = parseArgs(args, { values: ['--room', '--participant', '--from', '--to', '--state', '--limit', '--cursor', '--token-file', '--config'], flags: ['--all', '--json'] });
    if (typeof parsed === 'string') return usageError(io, 'list', USAGE, parsed);
    if (parsed.positional.length > 0) return usageError(io, 'list', USAGE, `unexpected argument ${parsed.positional[0]}: filters are options (--room, --participant...)`);
    const v = parsed.values;
    const filters: ListFilters = {};
    if (v.has('--room')) {
      if (!/^[A-Za-z0-9._:-]{1,128}$/.test(v.get('--room')!)) return usageError(io, 'list', USAGE, '--room must be a room id (letters, digits, . _ : -)');
      filters.room = v.get('--room')!;
    }
    if (v.has('--participant')) {
      if (!/^[!-~]{1,128}$/.test(v.get('--participant')!)) return usageError(io, 'list', USAGE, '--participant must be a pseudonymous participant id');
      filters.participant = v.get('--participant')!;
    }
    for (const [option, key] of [['--from', 'fromMs'], ['--to', 'toMs']] as const) {
      const ms = time(v.get(option));
      if (ms === 'bad') return usageError(io, 'list', USAGE, `${option} must be epoch milliseconds or an ISO 8601 UTC time (2026-11-23T10:00:00Z)`);
      if (ms !== undefined) filters[key] = ms;
    }
    if (v.has('--state')) filters.state = v.get('--state')!;
    if (v.has('--limit')) {
      const limit = Number(v.get('--limit'));
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) return usageError(io, 'list', USAGE, `--limit must be an integer from 1 to ${MAX_PAGE}`);
      filters.limit = limit;
    }
    if (v.has('--cursor')) filters.cursor = v.get('--cursor')!;

    const principal = await staffPrincipal(io, 'list', v.get('--token-file'));
    if (!principal) return 2;
    const opened = await openCliSealServices(io, 'list', v.get('--config'));
    if (typeof opened === 'number') return opened;
    const { pool } = opened.built.services;
    try {
      const recordings: ListedRecording[] = [];
      let cursor: string | null = filters.cursor ?? null;
      for (;;) {
        let page;
        try {
          page = await listRecordings(pool, principal, { ...filters, ...(cursor ? { cursor } : {}) });
        } catch (error) {
          if (error instanceof RecordsError) {
            if (error.code === 'forbidden') await auditAccess(pool, { event: RECORDS_EVENTS.listed, outcome: 'refused', principal, details: { reason: error.reason, via: 'cli' } });
            io.stderr.write(`chaperone list: ${error.code} — ${error.message}\n`);
            return error.code === 'invalid-request' ? 2 : EXIT_FAILED;
          }
          throw error;
        }
        recordings.push(...page.recordings);
        cursor = page.nextCursor;
        await auditAccess(pool, {
          event: RECORDS_EVENTS.listed,
          principal,
          ...(principal.room ? { roomId: principal.room } : {}),
          details: { results: page.recordings.length, room: filters.room, participant: filters.participant, fromMs: filters.fromMs, toMs: filters.toMs, state: filters.state, more: cursor !== null, via: 'cli' },
        });
        if (!parsed.flags.has('--all') || cursor === null) break;
        io.stderr.write(`listed ${recordings.length} recording(s) so far…\n`);
      }
      if (parsed.flags.has('--json')) io.stdout.write(`${JSON.stringify({ recordings, nextCursor: cursor }, null, 2)}\n`);
      else {
        io.stdout.write(`recording\troom\tstate\tstarted\tlength\tplayback\ttracks\n`);
        for (const r of recordings) io.stdout.write(`${line(r)}\n`);
        io.stderr.write(`${recordings.length} recording(s)${cursor ? `; more: chaperone list … --cursor ${cursor} (or --all)` : ''}\n`);
      }
      return EXIT_OK;
    } finally {
      await opened.built.close();
    }
  },
};

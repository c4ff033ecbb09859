import { createHash } from 'node:crypto';

/**
 * Verification of the hash chains that PostgreSQL builds on append-only tables (the audit log, the
 * consent ledger). The database links rows in its insert trigger (`chain_link`, migration 0100); this file
 * recomputes every link independently, in Node, from the stored column values, so a chain altered by
 * someone who can bypass the triggers (a superuser with triggers disabled) is found.
 *
 * Canonical form (must match chain_link exactly):
 *   row_hash = SHA-256( "chaperone-chain-v1" 0x00 table 0x00 prev_hash int8be(seq)
 *                       { 0x00 (NULL) | 0x01 int4be(len) utf8(value) } per content column, in order )
 * where `value` is the column's text as `to_jsonb(row) ->> column` renders it — which for the allowed
 * column types (text, bigint, integer, boolean) does not depend on any session setting.
 *
 * What verification can and cannot see: an altered row (its hash no longer matches), a removed row (a
 * gap in `seq` and a broken link), rows re-hashed after an alteration (the link to the next unaltered
 * row breaks). Removing the newest rows, or rewriting the whole tail consistently, leaves a valid
 * shorter chain: pass `anchors` — heads recorded earlier somewhere the database's superuser cannot
 * write (a WORM object, a ticket) — to catch that.
 */

export interface Queryable {
  query<R extends object = Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
}

export interface ChainSpec {
  /** Table name (unqualified, in the connection's search path). */
  table: string;
  /** Content columns in hash order — exactly the arguments of the table's chain_link trigger. */
  columns: readonly string[];
}

export interface ChainAnchor {
  seq: bigint;
  /** row_hash, hex. */
  rowHash: string;
}

export type ChainProblem =
  /** The row's content no longer hashes to its stored row_hash. */
  | { seq: bigint; kind: 'altered' }
  /** The row's prev_hash is not the hash of the row before it. */
  | { seq: bigint; kind: 'broken-link' }
  /** Rows are missing before this one (seq jumps, or the chain does not start at 1). */
  | { seq: bigint; kind: 'missing-before'; missing: bigint }
  /** An anchor recorded earlier is not in the chain as recorded. */
  | { seq: bigint; kind: 'anchor-mismatch' };

export interface ChainReport {
  ok: boolean;
  rows: number;
  /** The newest row: record it as an anchor for later verifications. */
  head: ChainAnchor | undefined;
  problems: ChainProblem[];
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
const PREFIX = Buffer.from('chaperone-chain-v1', 'utf8');
const ZERO_HASH = Buffer.alloc(32);
const PAGE_ROWS = 5000;

function checkSpec(spec: ChainSpec): void {
  if (!IDENTIFIER.test(spec.table)) throw new TypeError('spec.table must be a lowercase SQL identifier');
  if (!Array.isArray(spec.columns) || spec.columns.length === 0) throw new TypeError('spec.columns must list the chained columns');
  for (const column of spec.columns) if (!IDENTIFIER.test(column)) throw new TypeError(`spec.columns: "${column}" is not a lowercase SQL identifier`);
}

/** The row hash the trigger computes, from the column texts. */
export function chainRowHash(table: string, prevHash: Uint8Array, seq: bigint, values: ReadonlyArray<string | null>): Buffer {
  const hash = createHash('sha256');
  hash.update(PREFIX);
  hash.update(Uint8Array.of(0));
  hash.update(Buffer.from(table, 'utf8'));
  hash.update(Uint8Array.of(0));
  hash.update(prevHash);
  const seqBytes = Buffer.alloc(8);
  seqBytes.writeBigInt64BE(seq);
  hash.update(seqBytes);
  for (const value of values) {
    if (value === null) {
      hash.update(Uint8Array.of(0));
      continue;
    }
    const bytes = Buffer.from(value, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    hash.update(Uint8Array.of(1));
    hash.update(length);
    hash.update(bytes);
  }
  return hash.digest();
}

/** Recomputes the whole chain of `spec.table`, oldest first, in pages. */
export async function verifyChain(db: Queryable, spec: ChainSpec, options: { anchors?: readonly ChainAnchor[] } = {}): Promise<ChainReport> {
  checkSpec(spec);
  const valueList = spec.columns.map((column) => `to_jsonb(t) ->> '${column}'`).join(', ');
  const sql = `select seq::text as seq, prev_hash, row_hash, array[${valueList}]::text[] as vals
    from ${spec.table} t where t.seq > $1 order by t.seq limit ${PAGE_ROWS}`;
  const problems: ChainProblem[] = [];
  const seen = new Map<bigint, string>();
  let expectedPrev: Buffer = ZERO_HASH;
  let expectedSeq = 1n;
  let rows = 0;
  let head: ChainAnchor | undefined;
  let after = 0n;
  for (;;) {
    const page = await db.query<{ seq: string; prev_hash: Buffer; row_hash: Buffer; vals: Array<string | null> }>(sql, [after.toString()]);
    for (const row of page.rows) {
      const seq = BigInt(row.seq);
      if (seq !== expectedSeq) problems.push({ seq, kind: 'missing-before', missing: seq - expectedSeq });
      if (!row.prev_hash.equals(expectedPrev)) problems.push({ seq, kind: 'broken-link' });
      const recomputed = chainRowHash(spec.table, row.prev_hash, seq, row.vals);
      if (!recomputed.equals(row.row_hash)) problems.push({ seq, kind: 'altered' });
      // The next row must link to this row's stored hash; an alteration is reported once, here.
      expectedPrev = row.row_hash;
      expectedSeq = seq + 1n;
      rows++;
      head = { seq, rowHash: row.row_hash.toString('hex') };
      if (options.anchors !== undefined) seen.set(seq, head.rowHash);
    }
    if (page.rows.length < PAGE_ROWS) break;
    after = expectedSeq - 1n;
  }
  for (const anchor of options.anchors ?? []) {
    if (seen.get(anchor.seq) !== anchor.rowHash.toLowerCase()) problems.push({ seq: anchor.seq, kind: 'anchor-mismatch' });
  }
  return { ok: problems.length === 0, rows, head, problems };
}

/** The content columns a table's chain_link trigger hashes, as installed (for consistency checks). */
export async function installedChainColumns(db: Queryable, table: string): Promise<string[] | undefined> {
  if (!IDENTIFIER.test(table)) throw new TypeError('table must be a lowercase SQL identifier');
  const { rows } = await db.query<{ tgargs: Buffer; tgnargs: number }>(
    `select tgargs, tgnargs from pg_trigger
      where tgrelid = $1::regclass and tgfoid = 'chain_link'::regproc and not tgisinternal`,
    [table],
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  // tgargs: the arguments, each followed by a NUL byte.
  const args = row.tgargs.toString('utf8').split('\0').slice(0, row.tgnargs);
  return args;
}

import { createHash } from 'node:crypto';
import { startTestDatabase, type TestDatabase } from '../keyservice/test-support.js';
import { consentRefsFor, parseConsentRef } from './consent-refs.js';
import { parseSealRecordingRequest } from './seal-request.js';

// The consent ledger is append-only and hash-chained (migration 0101); rows are written here with SQL as
// the key service's ledger writes them, the chain trigger filling seq and hashes.
let db: TestDatabase;
let n = 0;

const hex = (s: string) => createHash('sha256').update(s).digest('hex');

async function ledger(entry: { at: number; room?: string; member: string; version?: number; decision: 'grant' | 'revoke' }): Promise<{ seq: number; digest: string }> {
  const digest = hex(`statement ${++n}`);
  const { rows } = await db.admin.query<{ seq: string }>(
    `insert into consent_ledger (received_at_ms, room_id, group_id, member_id, leaf_index, policy_version, purpose, statement_sha256,
       decision, issued_at_ms, statement, signature, signer_key, statement_digest)
     values ($1, $2, 'ab01', $3, 0, $4, 'medical-record', $5, $6, $1, 'c3RhdGVtZW50', 'c2ln', 'a2V5', $7) returning seq`,
    [entry.at, entry.room ?? 'room-1', entry.member, entry.version ?? 2, hex('policy statement'), entry.decision, digest],
  );
  return { seq: Number(rows[0]!.seq), digest };
}

beforeAll(async () => {
  db = await startTestDatabase();
}, 60_000);

afterAll(async () => {
  await db?.stop();
});

test('a recording references the standing grants at its start and every statement received while it ran, for its room and policy version only', async () => {
  const aliceGrant = await ledger({ at: 100, member: 'alice', decision: 'grant' });
  await ledger({ at: 200, member: 'bob', decision: 'grant' });
  await ledger({ at: 500, member: 'bob', decision: 'revoke' }); // bob's standing decision at the start: revoked
  await ledger({ at: 300, member: 'carol', version: 1, decision: 'grant' }); // another policy version
  await ledger({ at: 400, room: 'room-2', member: 'dan', decision: 'grant' }); // another room
  const daveGrant = await ledger({ at: 1500, member: 'dave', decision: 'grant' }); // joined during the recording
  const aliceRevoke = await ledger({ at: 1800, member: 'alice', decision: 'revoke' }); // why it stopped
  await ledger({ at: 2500, member: 'erin', decision: 'grant' }); // after the end

  const refs = await consentRefsFor(db.pool, { roomId: 'room-1', policyVersion: 2, startedAtMs: 1000, endedAtMs: 2000 });

  expect(refs.map((r) => parseConsentRef(r))).toEqual([aliceGrant, daveGrant, aliceRevoke].map((e) => ({ seq: e.seq, statementDigest: e.digest })));
  // They are valid seal-request consent references (identifiers only) and survive the contract's checks.
  const request = parseSealRecordingRequest({
    recordingId: 'rec-consent-refs',
    roomId: 'room-1',
    recorderId: 'recorder-1',
    policy: { policyId: 'room-1:v2', policyVersion: 2, purpose: 'medical-record', retentionDays: 30, part2: false },
    consentRefs: refs,
    startedAtMs: 1000,
    endedAtMs: 2000,
    tracks: [],
  });
  expect(request.consentRefs).toEqual(refs);
});

test('no statement for the window gives no references (never a guess)', async () => {
  expect(await consentRefsFor(db.pool, { roomId: 'room-empty', policyVersion: 1, startedAtMs: 0, endedAtMs: 10 })).toEqual([]);
});

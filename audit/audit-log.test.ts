import pg from 'pg';
import { migrate } from '../db/migrate.js';
import { freePort } from '../devstack/free-port.js';
import { startPostgresServer, type PostgresServer } from '../devstack/postgres-server.js';
import { AUDIT_CHAIN, appendAudit, canonicalDetails, readAudit, verifyAuditChain } from './audit-log.js';
import { installedChainColumns } from './hash-chain.js';

/** The audit chain against a real PostgreSQL 15: the database links, Node verifies. */

let server: PostgresServer;
let admin: pg.Client;
let app: pg.Client;

beforeAll(async () => {
  server = await startPostgresServer({ port: await freePort() });
  admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await migrate(admin);
  // A login role that is only a member of the services' group role, as in production.
  await admin.query('create role audit_app_test login in role chaperone_app');
  app = new pg.Client({ connectionString: server.url.replace('chaperone@', 'audit_app_test@') });
  await app.connect();
}, 60_000);

afterAll(async () => {
  await app?.end();
  await admin?.end();
  await server?.stop();
});

/** Runs `sql` as the superuser with every trigger disabled (what an attacker with superuser can do). */
async function asSuperuserWithoutTriggers(sql: string, values: unknown[] = []): Promise<void> {
  await admin.query('begin');
  await admin.query('set local session_replication_role = replica');
  await admin.query(sql, values);
  await admin.query('commit');
}

describe('audit log', () => {
  test('the trigger hashes exactly the columns the verifier hashes', async () => {
    expect(await installedChainColumns(admin, 'audit_log')).toEqual([...AUDIT_CHAIN.columns]);
  });

  test('appends linked rows and verifies them, in any session time zone', async () => {
    const first = await appendAudit(app, { event: 'policy.changed', actor: { role: 'operator', id: 'op-1' }, roomId: 'room-a', details: { version: 1, purpose: 'medical-record' } });
    const second = await appendAudit(app, { event: 'consent.granted', actor: { role: 'patient', id: 'p-1' }, roomId: 'room-a', subjectId: 'p-1', details: { version: 1 } });
    expect(second.seq).toBe(first.seq + 1n);
    await appendAudit(app, { event: 'recorder.refused', outcome: 'refused', roomId: 'room-a', details: { reason: 'no-consent', count: 2, final: true, note: null } });
    const report = await verifyAuditChain(app);
    expect(report).toMatchObject({ ok: true, problems: [] });
    expect(report.head).toEqual({ seq: report.head!.seq, rowHash: expect.stringMatching(/^[0-9a-f]{64}$/) });

    await admin.query("set timezone = 'America/New_York'");
    await admin.query("set bytea_output = 'escape'");
    expect((await verifyAuditChain(admin)).ok).toBe(true);
    await admin.query('reset timezone');
    await admin.query('reset bytea_output');

    const events = await readAudit(app, { roomId: 'room-a' });
    expect(events.map((e) => e.event)).toEqual(['policy.changed', 'consent.granted', 'recorder.refused']);
    expect(events[2]!.details).toEqual({ count: 2, final: true, note: null, reason: 'no-consent' });
  });

  test('concurrent appenders produce one gapless chain', async () => {
    const pool = new pg.Pool({ connectionString: server.url.replace('chaperone@', 'audit_app_test@'), max: 6 });
    try {
      const before = (await verifyAuditChain(app)).rows;
      await Promise.all(
        Array.from({ length: 40 }, async (_, i) => {
          const client = await pool.connect();
          try {
            await client.query('begin');
            await appendAudit(client, { event: 'test.concurrent', roomId: `room-${i % 4}`, details: { i } });
            await client.query('commit');
          } finally {
            client.release();
          }
        }),
      );
      const report = await verifyAuditChain(app);
      expect(report.problems).toEqual([]);
      expect(report.rows).toBe(before + 40);
    } finally {
      await pool.end();
    }
  });

  test('the application role may only insert and select; everyone is refused UPDATE, DELETE and TRUNCATE', async () => {
    await expect(app.query("update audit_log set details = '{}' where seq = 1")).rejects.toMatchObject({ code: '42501' });
    await expect(app.query('delete from audit_log where seq = 1')).rejects.toMatchObject({ code: '42501' });
    await expect(app.query('truncate audit_log')).rejects.toMatchObject({ code: '42501' });
    // Even the superuser, while the triggers are on.
    await expect(admin.query("update audit_log set details = '{}' where seq = 1")).rejects.toMatchObject({ code: 'CHA01' });
    await expect(admin.query('delete from audit_log where seq = 1')).rejects.toMatchObject({ code: 'CHA01' });
    await expect(admin.query('truncate audit_log')).rejects.toMatchObject({ code: 'CHA01' });
    // Chain columns cannot be forged on insert: the trigger sets them.
    await app.query(
      `insert into audit_log (seq, event, outcome, details, prev_hash, row_hash) values (999999, 'test.forged', 'ok', '{}', '\\x00', '\\x00')`,
    );
    expect((await verifyAuditChain(app)).ok).toBe(true);
  });

  test('finds a row altered, and a row deleted, by a superuser with triggers disabled', async () => {
    await appendAudit(app, { event: 'consent.revoked', roomId: 'room-b', subjectId: 'p-2', details: { version: 3 } });
    const target = await appendAudit(app, { event: 'recorder.removed', roomId: 'room-b', details: { leafIndex: 3 } });
    await appendAudit(app, { event: 'recorder.dispatched', roomId: 'room-b' });
    expect((await verifyAuditChain(app)).ok).toBe(true);
    const original = (await admin.query<{ details: string }>('select details from audit_log where seq = $1', [target.seq.toString()])).rows[0]!.details;

    await asSuperuserWithoutTriggers('update audit_log set details = $1 where seq = $2', ['{"leafIndex":4}', target.seq.toString()]);
    let report = await verifyAuditChain(app);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([{ seq: target.seq, kind: 'altered' }]);

    // Re-hashing the altered row does not help: the next row's link breaks.
    await asSuperuserWithoutTriggers(
      `update audit_log set row_hash = sha256(row_hash) where seq = $1`,
      [target.seq.toString()],
    );
    report = await verifyAuditChain(app);
    expect(report.problems.map((p) => p.kind)).toEqual(expect.arrayContaining(['altered', 'broken-link']));

    // Put it back exactly, then delete it instead.
    await asSuperuserWithoutTriggers('update audit_log set details = $1 where seq = $2', [original, target.seq.toString()]);
    const next = await admin.query<{ prev: Buffer }>('select prev_hash as prev from audit_log where seq = $1', [(target.seq + 1n).toString()]);
    await asSuperuserWithoutTriggers('update audit_log set row_hash = $1 where seq = $2', [next.rows[0]!.prev, target.seq.toString()]);
    expect((await verifyAuditChain(app)).ok).toBe(true);

    await asSuperuserWithoutTriggers('delete from audit_log where seq = $1', [target.seq.toString()]);
    report = await verifyAuditChain(app);
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([
      { seq: target.seq + 1n, kind: 'missing-before', missing: 1n },
      { seq: target.seq + 1n, kind: 'broken-link' },
    ]);
  });

  test('an anchor recorded earlier catches the newest rows being removed', async () => {
    // Start from a consistent chain again: drop the damaged history (test only) and rebuild.
    await asSuperuserWithoutTriggers('delete from audit_log');
    await appendAudit(app, { event: 'test.one' });
    const anchorRow = await appendAudit(app, { event: 'test.two' });
    const report = await verifyAuditChain(app);
    expect(report.ok).toBe(true);
    const anchor = report.head!;
    expect(anchor).toEqual({ seq: anchorRow.seq, rowHash: anchorRow.rowHash });
    await asSuperuserWithoutTriggers('delete from audit_log where seq = $1', [anchor.seq.toString()]);
    expect((await verifyAuditChain(app)).ok).toBe(true); // a shorter chain is still a chain…
    expect(await verifyAuditChain(app, { anchors: [anchor] })).toMatchObject({ ok: false, problems: [{ seq: anchor.seq, kind: 'anchor-mismatch' }] });
  });

  test('refuses events that are not identifiers and codes, naming the field', async () => {
    await expect(appendAudit(app, { event: 'Consent Granted' })).rejects.toMatchObject({ name: 'AuditEventError', field: 'event' });
    await expect(appendAudit(app, { event: 'consent.granted', actor: { role: 'patient', id: 'Jane Doe' } })).rejects.toMatchObject({ field: 'actor.id' });
    await expect(appendAudit(app, { event: 'consent.granted', roomId: 'room/../x' })).rejects.toMatchObject({ field: 'roomId' });
    await expect(appendAudit(app, { event: 'consent.granted', details: { 'full name': 'x' } })).rejects.toMatchObject({ field: 'details.full name' });
    await expect(appendAudit(app, { event: 'consent.granted', details: { nested: {} as unknown as string } })).rejects.toMatchObject({ field: 'details.nested' });
    expect(canonicalDetails({ b: 1, a: 'x' })).toBe('{"a":"x","b":1}');
  });
});

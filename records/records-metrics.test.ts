import pg from 'pg';
import { Registry } from 'prom-client';
import { appendAudit } from '../audit/index.js';
import { migrate } from '../db/migrate.js';
import { freePort } from '../devstack/free-port.js';
import { startPostgresServer, type PostgresServer } from '../devstack/postgres-server.js';
import { auditAccess, RECORDS_EVENTS } from './access-audit.js';
import { instrumentRecords } from './records-metrics.js';

/** The records service's counters follow the events appended to the real audit log (PostgreSQL). */
let server: PostgresServer;
let db: pg.Client;

beforeAll(async () => {
  server = await startPostgresServer({ port: await freePort() });
  db = new pg.Client({ connectionString: server.url });
  await db.connect();
  await migrate(db);
}, 60_000);

afterAll(async () => {
  await db?.end();
  await server?.stop();
});

const value = (text: string, series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? 'NaN');

test('sessions, plays and bytes, integrity refusals, exports and deletions by outcome, refusals by event; nothing after close', async () => {
  const registry = new Registry();
  const metrics = instrumentRecords(registry);
  const actor = { role: 'records-officer', id: 'ro-metrics' };
  const principal = { kind: 'user' as const, subject: 'ro-metrics', role: 'records-officer' as const, room: undefined };
  const recording = { roomId: 'room-m', subjectId: 'rec-metrics-1' };
  await auditAccess(db, { event: RECORDS_EVENTS.sessionOpened, principal, ...recording, details: { sessionId: 's1' } });
  await auditAccess(db, { event: RECORDS_EVENTS.sessionOpened, outcome: 'refused', principal, details: { reason: 'token-replayed' } });
  await auditAccess(db, { event: RECORDS_EVENTS.played, principal, ...recording, details: { bytes: 1000 } });
  await auditAccess(db, { event: RECORDS_EVENTS.played, outcome: 'failed', principal, ...recording, details: { bytes: 24 } });
  await auditAccess(db, { event: RECORDS_EVENTS.integrityFailed, outcome: 'failed', principal, ...recording, details: { problem: 'plaintext-hash' } });
  await auditAccess(db, { event: RECORDS_EVENTS.unauthenticated, outcome: 'refused', details: { reason: 'expired' } });
  await appendAudit(db, { event: 'recording.exported', actor, ...recording, details: { scope: 'recording' } });
  await appendAudit(db, { event: 'recording.export', outcome: 'refused', actor, ...recording, details: { reason: 'not-own' } });
  await appendAudit(db, { event: 'recording.deletion-requested', actor, ...recording, details: { scope: 'track' } });
  await appendAudit(db, { event: 'recording.deletion-requested', outcome: 'refused', actor, ...recording, details: { reason: 'legal-hold' } });
  await appendAudit(db, { event: 'recording.track-deleted', actor, ...recording, details: { scope: 'track' } });
  await appendAudit(db, { event: 'recording.deletion-interrupted', outcome: 'failed', actor, ...recording, details: { code: 'CHAP_RECORDS_STORE_UNAVAILABLE' } });
  // Another service's events in the same process count nothing here.
  await appendAudit(db, { event: 'consent.granted', actor, roomId: 'room-m', subjectId: 'member-1' });

  const text = await registry.metrics();
  expect(value(text, 'chaperone_records_playback_sessions_total{outcome="ok"}')).toBe(1);
  expect(value(text, 'chaperone_records_playback_sessions_total{outcome="refused"}')).toBe(1);
  expect(value(text, 'chaperone_records_plays_total{outcome="ok"}')).toBe(1);
  expect(value(text, 'chaperone_records_plays_total{outcome="failed"}')).toBe(1);
  expect(value(text, 'chaperone_records_plays_total{outcome="refused"}')).toBe(0);
  expect(value(text, 'chaperone_records_playback_bytes_total')).toBe(1024);
  expect(value(text, 'chaperone_records_integrity_refusals_total')).toBe(1);
  expect(value(text, 'chaperone_records_exports_total{outcome="ok"}')).toBe(1);
  expect(value(text, 'chaperone_records_exports_total{outcome="refused"}')).toBe(1);
  expect(value(text, 'chaperone_records_deletions_total{outcome="requested"}')).toBe(1);
  expect(value(text, 'chaperone_records_deletions_total{outcome="refused"}')).toBe(1);
  expect(value(text, 'chaperone_records_deletions_total{outcome="completed"}')).toBe(1);
  expect(value(text, 'chaperone_records_deletions_total{outcome="failed"}')).toBe(1);
  expect(value(text, 'chaperone_records_access_refusals_total{event="records.unauthenticated"}')).toBe(1);
  expect(text).not.toMatch(/rec-metrics-1|ro-metrics|room-m/);

  metrics.close();
  await auditAccess(db, { event: RECORDS_EVENTS.integrityFailed, outcome: 'failed', principal, ...recording, details: { problem: 'size' } });
  expect(value(await registry.metrics(), 'chaperone_records_integrity_refusals_total')).toBe(1);
});

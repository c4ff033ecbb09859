/**
 * The hash-chained audit log in PostgreSQL, shared by every service (ARCHITECTURE.md I7), and the
 * chain verification reused by other append-only tables (the consent ledger).
 * Schema: db/migrations/0100_hash_chain_and_audit_log.sql.
 */
export {
  AUDIT_CHAIN,
  AuditEventError,
  appendAudit,
  canonicalDetails,
  observeAuditEvents,
  readAudit,
  verifyAuditChain,
  type AppendedAudit,
  type AuditDetailValue,
  type AuditEvent,
  type AuditObserver,
  type AuditOutcome,
  type AuditRecord,
} from './audit-log.js';
export {
  chainRowHash,
  installedChainColumns,
  verifyChain,
  type ChainAnchor,
  type ChainProblem,
  type ChainReport,
  type ChainSpec,
  type Queryable,
} from './hash-chain.js';

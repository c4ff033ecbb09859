import { badInput } from './errors.js';

/**
 * Checks of what records staff and callers send (ids, reasons), at the boundary, naming the field. Ids
 * follow the catalog's rule (queue/jobs.ts ID_PATTERN); a reason is a short text about a matter or request
 * — printable, 10 to 500 characters — and is stored in the catalog only (the audit log keeps its SHA-256).
 */
const ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
// Printable text, no control characters (a reason is one or a few lines).
const REASON = /^[^\x00-\x08\x0b-\x1f\x7f]{10,500}$/u;

export function checkId(field: string, value: unknown): string {
  if (typeof value !== 'string' || !ID.test(value)) throw badInput(field, 'must be an id of letters, digits, _ or - (at most 64)');
  return value;
}

export function checkReason(field: string, value: unknown): string {
  if (typeof value !== 'string' || !REASON.test(value.trim())) {
    throw badInput(field, 'is required: 10 to 500 printable characters naming the matter or request (never patient details)');
  }
  return value.trim();
}

export const DELETION_REASON_CODES = ['retention-expired', 'patient-request', 'records-request', 'legal-order'] as const;
export type DeletionReasonCode = (typeof DELETION_REASON_CODES)[number];

export function checkReasonCode(field: string, value: unknown): DeletionReasonCode {
  if (typeof value !== 'string' || !(DELETION_REASON_CODES as readonly string[]).includes(value) || value === 'retention-expired') {
    throw badInput(field, 'must be patient-request, records-request or legal-order (retention-expired is the retention sweep\'s alone)');
  }
  return value as DeletionReasonCode;
}

import { CodecError, CryptoVerificationError, ValidationError } from 'ts-mls';

/**
 * The MLS layer's error model: one class, a stable code, and whose fault it is. Errors that cross a
 * process boundary (worker, WebSocket) are matched by `name` and `code`, never by instanceof. Messages
 * name what was wrong and never carry key material, MLS bytes or display names.
 */
export type MlsErrorCode =
  /** caller: an argument is missing or out of range. */
  | 'bad-argument'
  /** caller: the operation is not possible in the session's current state (no group, removed, closed). */
  | 'invalid-state'
  /** input: bytes do not decode as the expected MLS structure, or carry trailing bytes. */
  | 'malformed-message'
  /** input: a message for another group. */
  | 'wrong-group'
  /** input: a handshake message for an epoch older than the current one. */
  | 'stale-epoch'
  /** input: a handshake message for an epoch this member has not reached. */
  | 'future-epoch'
  /** input: a proposal not sent by the group's key service, or of a type other than Add/Remove. */
  | 'refused-proposal'
  /** input: a commit that breaks this profile (proposals by value, missing UpdatePath where required). */
  | 'refused-commit'
  /** input: a signature, membership tag or confirmation tag did not verify. */
  | 'bad-signature'
  /** input: a credential is malformed or was refused by the credential validator. */
  | 'invalid-credential'
  /** input: the group's GroupContext does not name exactly the key service as its external sender. */
  | 'invalid-group'
  /** library: ts-mls raised an error this layer does not classify further (see `cause`). */
  | 'mls-failure';

export type MlsErrorOrigin = 'caller' | 'input' | 'library';

const ORIGIN: Record<MlsErrorCode, MlsErrorOrigin> = {
  'bad-argument': 'caller',
  'invalid-state': 'caller',
  'malformed-message': 'input',
  'wrong-group': 'input',
  'stale-epoch': 'input',
  'future-epoch': 'input',
  'refused-proposal': 'input',
  'refused-commit': 'input',
  'bad-signature': 'input',
  'invalid-credential': 'input',
  'invalid-group': 'input',
  'mls-failure': 'library',
};

export class MlsSessionError extends Error {
  override readonly name = 'MlsSessionError';
  readonly origin: MlsErrorOrigin;
  constructor(
    readonly code: MlsErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.origin = ORIGIN[code];
  }
}

/** Maps an error thrown by ts-mls (2.0 raises typed MlsError subclasses) to this layer's codes. */
export function fromLibraryError(error: unknown, what: string, onValidation: MlsErrorCode = 'mls-failure'): MlsSessionError {
  if (error instanceof MlsSessionError) return error;
  if (error instanceof CryptoVerificationError) return new MlsSessionError('bad-signature', `${what}: verification failed`, { cause: error });
  if (error instanceof CodecError) return new MlsSessionError('malformed-message', `${what}: could not decode`, { cause: error });
  if (error instanceof ValidationError) return new MlsSessionError(onValidation, `${what}: ${error.message}`, { cause: error });
  return new MlsSessionError('mls-failure', `${what} failed`, { cause: error });
}

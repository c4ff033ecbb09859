/**
 * Errors of the SFrame key schedule. They are thrown only by calls the owning code makes when state
 * changes (installing an epoch, building a KID); the per-frame lookups (`resolveBaseKey`, `senderKey`)
 * never throw: they return undefined, which the SFrame receiver counts as an unknown KID.
 */
export type KeyScheduleErrorCode =
  /** caller: an argument is out of range (leaf index beyond S bits, context beyond its bits, key length). */
  | 'bad-argument'
  /** caller: an epoch was installed that is not newer than the current one. */
  | 'epoch-not-newer';

export class KeyScheduleError extends Error {
  override readonly name = 'KeyScheduleError';
  constructor(
    readonly code: KeyScheduleErrorCode,
    message: string,
  ) {
    super(message);
  }
}

import type { MlsMessage } from 'ts-mls';
import { encode, mlsMessageDecoder, mlsMessageEncoder } from 'ts-mls';
import { MlsSessionError } from './errors.js';

/** Largest MLS message this project accepts (a Welcome with a ratchet tree for a large call stays far below). */
export const MAX_MLS_MESSAGE_BYTES = 512 * 1024;

/**
 * Decodes an MLSMessage (RFC 9420 §6) strictly: the whole input must be consumed. ts-mls's own `decode`
 * ignores trailing bytes, so two different byte strings could decode to one message; this does not.
 */
export function decodeMlsMessage(bytes: Uint8Array): MlsMessage {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) throw new MlsSessionError('malformed-message', 'empty MLS message');
  if (bytes.length > MAX_MLS_MESSAGE_BYTES) throw new MlsSessionError('malformed-message', 'MLS message too large');
  let decoded: [MlsMessage, number] | undefined;
  try {
    decoded = mlsMessageDecoder(bytes, 0);
  } catch (error) {
    throw new MlsSessionError('malformed-message', 'not an MLS message', { cause: error });
  }
  if (decoded === undefined) throw new MlsSessionError('malformed-message', 'not an MLS message');
  if (decoded[1] !== bytes.length) throw new MlsSessionError('malformed-message', 'trailing bytes after the MLS message');
  return decoded[0];
}

export function encodeMlsMessage(message: MlsMessage): Uint8Array {
  return encode(mlsMessageEncoder, message);
}

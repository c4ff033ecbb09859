import { MemberSignatureKeys, base64Decode, base64Encode, decodeIdentity, isIssuedRecorder, type IssuedRecorderIdentity } from '../e2ee/mls/index.js';

/**
 * Lets the reference page act as a recorder for tests and benchmarks (the real recorder is bot/): it
 * generates its MLS signature keys here, hands out only the public key (the test obtains the credential
 * from the key service with a recorder token, as the recorder does), and joins with the credential
 * issued for that key. The private key never leaves the page.
 */

let prepared: MemberSignatureKeys | undefined;

export async function prepareRecorderKeys(): Promise<string> {
  prepared?.erase();
  prepared = await MemberSignatureKeys.generate();
  return base64Encode(prepared.publicKey);
}

/** The prepared keys and the issued identity, once; throws if either is missing or they do not match. */
export function takeRecorderIdentity(credential: string): { identity: IssuedRecorderIdentity; keys: MemberSignatureKeys } {
  const bytes = base64Decode(credential);
  if (bytes === undefined) throw new TypeError('recorderCredential must be base64');
  const identity = decodeIdentity(bytes);
  if (!isIssuedRecorder(identity)) throw new TypeError('recorderCredential is not an issued recorder credential');
  const keys = prepared;
  if (keys === undefined) throw new TypeError('call prepareRecorderKeys() first');
  prepared = undefined;
  return { identity, keys };
}

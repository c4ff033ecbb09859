/**
 * The texts that travel with an export: DECRYPT.txt beside the encrypted bundle (how to open it with
 * OpenSSL) and README.txt inside it (how to check every file against the signed manifest with sha256sum
 * and OpenSSL alone). Identifiers only; the commands are the ones the export test runs.
 */

export function decryptInstructions(params: { recordingId: string; recipientFingerprint: string }): string {
  return `Chaperone export of recording ${params.recordingId} — encrypted to your public key
(SHA-256 of its DER SubjectPublicKeyInfo: ${params.recipientFingerprint})

Files: key.rsa-oaep (the bundle key, RSA-OAEP-SHA256 to your key), bundle.tar.enc (AES-256-CBC),
bundle.tar.enc.hmac (HMAC-SHA256 of bundle.tar.enc, hex). Needs OpenSSL 1.1.1 or 3.x and a POSIX shell.
Replace recipient-key.pem with your private key file.

1. Unwrap the bundle key:
   openssl pkeyutl -decrypt -inkey recipient-key.pem -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256 -in key.rsa-oaep -out bundle-key.txt
   read KEY IV MAC < bundle-key.txt

2. Check the bundle was not altered (must print OK) BEFORE decrypting it:
   openssl dgst -sha256 -mac HMAC -macopt hexkey:"$MAC" -r bundle.tar.enc | cut -d' ' -f1 > bundle.tar.enc.check
   cmp bundle.tar.enc.check bundle.tar.enc.hmac && echo OK

3. Decrypt and unpack:
   openssl enc -d -aes-256-cbc -K "$KEY" -iv "$IV" -in bundle.tar.enc -out bundle.tar
   tar xf bundle.tar
   rm bundle-key.txt

Then follow export-${params.recordingId}/README.txt to verify every file against the signed manifest.
`;
}

export interface ReadmeParams {
  recordingId: string;
  scope: 'participant' | 'recording';
  participantIds: readonly string[];
  exportedAtIso: string;
  signatureAlgorithm: string;
  signingKeyId: string;
  signingKeyFingerprint: string;
  manifestSha256: string;
  trackFiles: readonly string[];
  deletedTracks: readonly string[];
  consentFiles: number;
}

function verifyCommand(algorithm: string): string {
  if (algorithm === 'ED25519_SHA_512') {
    return 'openssl pkeyutl -verify -pubin -inkey manifest-signing-key.pem -rawin -in manifest-statement.json -sigfile manifest-signature.bin';
  }
  // ECDSA_SHA_256 (DER signature).
  return 'openssl dgst -sha256 -verify manifest-signing-key.pem -signature manifest-signature.bin manifest-statement.json';
}

export function bundleReadme(p: ReadmeParams): string {
  return `CHAPERONE RECORDING EXPORT
Recording:   ${p.recordingId}
Exported:    ${p.exportedAtIso}
Contents:    ${p.scope === 'recording' ? 'every track of the recording' : `the tracks of participant ${p.participantIds.join(', ')}`}

This bundle is what the recording service holds, decrypted, plus what is needed to check it
without trusting the service: the manifest that was signed when the recording was sealed, its
signature and the public key. Every media file was checked against the manifest's SHA-256 before
it was put in this bundle; you can check it again with the steps below (sha256sum and OpenSSL 3.0 or
later — step 1 uses "pkeyutl -rawin", which OpenSSL 1.1.1 lacks — in a POSIX shell).

FILES
  tracks/*.webm               the media, one file per track segment (WebM: VP8 video / Opus audio)
  SHA256SUMS                  SHA-256 of each media file, as the signed manifest records it
  manifest.json               the signed manifest (canonical JSON: tracks, segments, hashes, policy)
  manifest-statement.json     the exact bytes that were signed; they name the manifest's SHA-256
  manifest-signature.bin      the signature (${p.signatureAlgorithm}) over manifest-statement.json
  manifest-signing-key.pem    the signing public key (key id ${p.signingKeyId})
  manifest-signature.json     the signature block as the service stores it
  consent/*.json              ${p.consentFiles} consent statement(s) from the consent ledger (see CONSENT below)
${p.deletedTracks.length ? `  tombstones.json             tracks deleted before this export: ${p.deletedTracks.join(', ')}\n` : ''}
HOW TO VERIFY (run inside this folder)

1. The signature over the statement (prints "Signature Verified Successfully" or "Verified OK"):
   ${verifyCommand(p.signatureAlgorithm)}

2. The statement names this manifest: both commands must print the same hash, ${p.manifestSha256}
   sha256sum manifest.json
   grep -o '"manifestSha256":"[0-9a-f]*"' manifest-statement.json

3. The media files are the ones recorded (every line must end in OK):
   sha256sum -c SHA256SUMS

4. Every hash in SHA256SUMS is in the signed manifest (every line must say "in manifest"):
   cut -d' ' -f1 SHA256SUMS | while read h; do grep -q "$h" manifest.json && echo "$h in manifest" || echo "$h MISSING"; done

5. The signing key is the organisation's: the fingerprint printed (this bundle's key: ${p.signingKeyFingerprint})
must equal the one the organisation publishes for its manifest signing key:
   openssl pkey -pubin -in manifest-signing-key.pem -outform DER | sha256sum

If any step fails, the file or the manifest was changed after sealing: do not rely on it, and
contact the records office with the recording id.

CONSENT
Each consent/*.json file is one entry of the consent ledger: the statement exactly as the participant's
device signed it (base64), its signature and the public key it verified against (MLS, RFC 9420, Ed25519
with the MLS signing label), and whether the manifest references it. Checking those signatures needs an
MLS implementation; the ledger entry's SHA-256 (statementDigest) is what the manifest's consentRefs name.
${p.deletedTracks.length ? '\nDELETED TRACKS\nThe manifest still lists tracks deleted after sealing (it was signed before); tombstones.json records\nwhen, by whom and why. Their media is not in this bundle and can no longer be decrypted by anyone.\n' : ''}`;
}

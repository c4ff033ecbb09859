import { canonicalJson, sha256Hex } from './canonical-json.js';
import { LocalEd25519ManifestSigner } from './manifest-signer.js';
import { signingStatement, signManifest, verifyManifest, MANIFEST_FORMAT } from './manifest.js';

describe('manifest canonical form and signature', () => {
  test('canonical JSON sorts keys, drops undefined, and refuses what JSON cannot carry exactly', () => {
    expect(canonicalJson({ b: 1, a: [true, null, 'x"y'], c: undefined, A: { z: 0, y: -2 } })).toBe('{"A":{"y":-2,"z":0},"a":[true,null,"x\\"y"],"b":1}');
    expect(() => canonicalJson({ a: 0.5 })).toThrow(/\$\.a: canonical JSON carries safe integers only/);
    expect(() => canonicalJson({ a: 2 ** 60 })).toThrow(TypeError);
  });

  test('a signed manifest verifies; any change to it, or another key, is caught', async () => {
    const signer = LocalEd25519ManifestSigner.generate();
    const manifest = canonicalJson({ format: MANIFEST_FORMAT, recordingId: 'rec-1', tracks: [{ trackId: 't01-video', segments: [{ plaintext: { sha256: 'ab'.repeat(32), bytes: 10 } }] }] });
    const signature = await signManifest(signer, 'rec-1', manifest, 1_790_000_000_000);
    const trusted = [await signer.publicKeySpki()];
    expect(verifyManifest(manifest, signature, trusted)).toMatchObject({ valid: true, trusted: true, problems: [] });

    const altered = manifest.replace('"bytes":10', '"bytes":11');
    expect(verifyManifest(altered, signature, trusted)).toMatchObject({ valid: false });
    expect(verifyManifest(altered, signature, trusted).problems.join()).toMatch(/differs from the signed/);
    // Re-hashing the altered manifest does not help: the signature covers the hash.
    const rehashed = { ...signature, manifestSha256: sha256Hex(altered) };
    expect(verifyManifest(altered, rehashed, trusted).problems.join()).toMatch(/signature does not verify/);
    // Whitespace is not canonical.
    expect(verifyManifest(` ${manifest}`, signature, trusted).problems.join()).toMatch(/canonical/);

    const other = LocalEd25519ManifestSigner.generate();
    const forged = await signManifest(other, 'rec-1', altered, 1_790_000_000_000);
    expect(verifyManifest(altered, forged, trusted)).toMatchObject({ valid: true, trusted: false });
    expect(verifyManifest(manifest, { ...signature, signature: forged.signature }, trusted).valid).toBe(false);
  });

  test('the signed statement stays under the KMS RAW limit (4096 bytes) whatever the manifest size', () => {
    expect(signingStatement('r'.repeat(64), 'f'.repeat(64)).length).toBeLessThan(4096);
  });
});

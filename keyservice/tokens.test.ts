import { SignJWT } from 'jose';
import { createHs256TokenVerifier, createJwtVerifier, issueDevToken, TokenError } from './tokens.js';

const secret = new Uint8Array(32).fill(42);
const verifier = createHs256TokenVerifier({ secret });

describe('platform tokens (HS256 development verifier)', () => {
  it('verifies a dev token and returns its claims', async () => {
    const token = await issueDevToken(secret, { sub: 'p-1', room: 'room-a', role: 'clinician' });
    await expect(verifier.verify(token)).resolves.toEqual({ subject: 'p-1', room: 'room-a', role: 'clinician' });
  });

  it.each([
    ['another secret', () => issueDevToken(new Uint8Array(32).fill(1), { sub: 'p-1', room: 'r', role: 'patient' })],
    ['an expired token', () => issueDevToken(secret, { sub: 'p-1', room: 'r', role: 'patient', expiresInSec: -60 })],
    ['an unknown role', () => issueDevToken(secret, { sub: 'p-1', room: 'r', role: 'admin' as never })],
    ['a bad room id', () => issueDevToken(secret, { sub: 'p-1', room: 'r/../x', role: 'patient' })],
    ['a subject with spaces', () => issueDevToken(secret, { sub: 'p 1', room: 'r', role: 'patient' })],
    ['another audience', () => issueDevToken(secret, { sub: 'p-1', room: 'r', role: 'patient' }, { audience: 'other' })],
    [
      'no expiry',
      () =>
        new SignJWT({ room: 'r', role: 'patient' })
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('p-1')
          .setIssuer('chaperone-dev-platform')
          .setAudience('chaperone-keyservice')
          .sign(secret),
    ],
    ['alg none', async () => `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"p-1","room":"r","role":"patient"}').toString('base64url')}.`],
    ['garbage', async () => 'not-a-jwt'],
  ])('refuses %s with TokenError', async (_what, make) => {
    await expect(verifier.verify(await make())).rejects.toBeInstanceOf(TokenError);
  });

  it('refuses a short secret at construction', () => {
    expect(() => createHs256TokenVerifier({ secret: new Uint8Array(16) })).toThrow(TypeError);
  });
});

describe('platform tokens (asymmetric, production verifier)', () => {
  const issuer = 'https://platform.example';
  const audience = 'chaperone-keyservice';

  async function keyPair() {
    const { generateKeyPair, exportJWK } = await import('jose');
    const { publicKey, privateKey } = await generateKeyPair('EdDSA', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), alg: 'EdDSA', kid: 'k1' };
    const sign = (claims: Record<string, unknown>, sub = 'p-1') =>
      new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', kid: 'k1' }).setSubject(sub).setIssuer(issuer).setAudience(audience).setExpirationTime('5m').sign(privateKey);
    return { jwk, sign };
  }

  it('verifies against a configured public key; room is optional for staff and the recorder service only', async () => {
    const { jwk, sign } = await keyPair();
    const verifier = await createJwtVerifier({ publicKey: { jwk }, algorithms: ['EdDSA'], issuer, audience });
    await expect(verifier.verify(await sign({ role: 'patient', room: 'room-a' }))).resolves.toEqual({ subject: 'p-1', role: 'patient', room: 'room-a' });
    await expect(verifier.verify(await sign({ role: 'auditor' }, 'aud-1'))).resolves.toEqual({ subject: 'aud-1', role: 'auditor' });
    await expect(verifier.verify(await sign({ role: 'recorder' }, 'rec-svc'))).resolves.toEqual({ subject: 'rec-svc', role: 'recorder' });
    await expect(verifier.verify(await sign({ role: 'patient' }))).rejects.toThrow('a patient token must name its room');
    // An HS256 token made with the public key as secret (algorithm confusion) is refused.
    const confused = await issueDevToken(new TextEncoder().encode(JSON.stringify(jwk).padEnd(32, 'x')), { sub: 'p-1', room: 'r', role: 'patient' }, { audience });
    await expect(verifier.verify(confused)).rejects.toBeInstanceOf(TokenError);
  });

  it('verifies against a JWKS URL, and refuses a token signed by a key not in it', async () => {
    const { createServer } = await import('node:http');
    const { jwk, sign } = await keyPair();
    const other = await keyPair();
    const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as { port: number };
      const verifier = await createJwtVerifier({ jwksUrl: `http://127.0.0.1:${port}/jwks.json`, algorithms: ['EdDSA'], issuer, audience });
      await expect(verifier.verify(await sign({ role: 'clinician', room: 'room-b' }, 'c-9'))).resolves.toEqual({ subject: 'c-9', role: 'clinician', room: 'room-b' });
      await expect(verifier.verify(await other.sign({ role: 'clinician', room: 'room-b' }))).rejects.toBeInstanceOf(TokenError);
    } finally {
      server.close();
    }
  });

  it('refuses a configuration that would accept symmetric tokens or no key', async () => {
    await expect(createJwtVerifier({ jwksUrl: 'http://x/jwks', algorithms: ['HS256'], issuer, audience })).rejects.toThrow('only asymmetric');
    await expect(createJwtVerifier({ algorithms: ['EdDSA'], issuer, audience })).rejects.toThrow('exactly one');
  });
});

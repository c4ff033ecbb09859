import { SignJWT } from 'jose';
import { createHs256TokenVerifier, issueDevToken, TokenError } from './tokens.js';

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

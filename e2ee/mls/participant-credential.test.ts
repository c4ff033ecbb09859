import fc from 'fast-check';
import { base64Decode, base64Encode, utf8Decode, utf8Encode } from './bytes.js';
import { CredentialError, decodeIdentity, encodeIdentity, type ParticipantIdentity } from './participant-credential.js';

describe('participant credential identity', () => {
  it('encodes canonically and decodes back', () => {
    const identity: ParticipantIdentity = { id: 'p-7f3a', kind: 'participant', name: 'Zoë Ångström' };
    const bytes = encodeIdentity(identity);
    expect([...bytes.subarray(0, 3)]).toEqual([1, 1, 6]);
    expect(decodeIdentity(bytes)).toEqual(identity);
    expect(decodeIdentity(encodeIdentity({ id: 'rec-1', kind: 'recorder', name: 'Recorder' }))).toEqual({ id: 'rec-1', kind: 'recorder', name: 'Recorder' });
  });

  it('round-trips any acceptable identity', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[\x21-\x7e]{1,40}$/),
        fc.constantFrom('participant' as const, 'recorder' as const),
        fc.string({ minLength: 1, maxLength: 30 }).map((s) => s.normalize('NFC').trim()).filter((s) => s.length > 0 && !/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/u.test(s)),
        (id, kind, name) => {
          expect(decodeIdentity(encodeIdentity({ id, kind, name }))).toEqual({ id, kind, name });
        },
      ),
    );
  });

  it.each([
    ['an empty id', { id: '', kind: 'participant', name: 'A' }],
    ['a space in the id', { id: 'a b', kind: 'participant', name: 'A' }],
    ['an unknown kind', { id: 'a', kind: 'admin', name: 'A' }],
    ['an empty name', { id: 'a', kind: 'participant', name: '' }],
    ['a bidi override', { id: 'a', kind: 'participant', name: 'Eve\u202e' }],
    ['a control character', { id: 'a', kind: 'participant', name: 'Eve\n' }],
    ['padding', { id: 'a', kind: 'participant', name: ' Eve' }],
    ['a non-NFC name', { id: 'a', kind: 'participant', name: 'Zoe\u0308' }],
    ['a lone surrogate', { id: 'a', kind: 'participant', name: 'x\ud800' }],
  ])('refuses %s', (_what, identity) => {
    expect(() => encodeIdentity(identity as ParticipantIdentity)).toThrow(CredentialError);
  });

  it('refuses non-canonical or trailing bytes', () => {
    const good = encodeIdentity({ id: 'a', kind: 'participant', name: 'A' });
    expect(() => decodeIdentity(new Uint8Array([...good, 0]))).toThrow(CredentialError);
    expect(() => decodeIdentity(good.subarray(0, good.length - 1))).toThrow(CredentialError);
    const badVersion = good.slice();
    badVersion[0] = 2;
    expect(() => decodeIdentity(badVersion)).toThrow(CredentialError);
    const overlong = Uint8Array.of(1, 1, 1, 0x61, 0, 2, 0xc1, 0x81); // overlong UTF-8 for 'A'
    expect(() => decodeIdentity(overlong)).toThrow(CredentialError);
  });
});

describe('strict byte codecs', () => {
  it('base64 round-trips and refuses non-canonical text', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => expect(base64Decode(base64Encode(bytes))).toEqual(bytes)));
    expect(base64Encode(Uint8Array.of(255, 0))).toBe(Buffer.from([255, 0]).toString('base64'));
    for (const bad of ['A', 'AB=', 'A===', 'AR==', 'AQ=A', 'A Q=', '-_==']) expect(base64Decode(bad)).toBeUndefined();
  });

  it('UTF-8 round-trips and refuses malformed sequences', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (text) => expect(utf8Decode(utf8Encode(text))).toBe(text)));
    expect(utf8Encode('é€😀')).toEqual(new Uint8Array(Buffer.from('é€😀')));
    for (const bad of [[0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf5, 0x80, 0x80, 0x80], [0x80]]) {
      expect(utf8Decode(Uint8Array.from(bad))).toBeUndefined();
    }
  });
});

import {
  decodeClientMessage,
  decodeServerMessage,
  encodeClientMessage,
  encodeServerMessage,
  type ClientMessage,
  type ServerMessage,
} from './delivery-protocol.js';

const keyService = {
  signaturePublicKey: new Uint8Array(32).fill(7),
  identity: { id: 'chaperone-keyservice', kind: 'key-service' as const, name: 'Chaperone key service' },
};

describe('delivery protocol', () => {
  it('round-trips every client message', () => {
    const messages: ClientMessage[] = [
      { type: 'hello', token: 'a.b.c' },
      { type: 'key-package', keyPackage: Uint8Array.of(1, 2, 3) },
      { type: 'group-created', groupId: Uint8Array.of(9) },
      { type: 'commit', epoch: 18446744073709551615n, commit: Uint8Array.of(4), welcome: Uint8Array.of(5, 6) },
      { type: 'commit', epoch: 0n, commit: Uint8Array.of(4) },
      { type: 'commit', epoch: 1n, commit: Uint8Array.of(4), chained: true },
      { type: 'leave' },
      { type: 'consent', statement: Uint8Array.of(1, 2), signature: new Uint8Array(64).fill(3) },
      { type: 'refusal', what: 'proposal', code: 'bad-signature' },
    ];
    for (const message of messages) expect(decodeClientMessage(encodeClientMessage(message))).toEqual({ ok: true, value: message });
  });

  it('round-trips every server message', () => {
    const messages: ServerMessage[] = [
      { type: 'hello-ok', externalSender: keyService },
      { type: 'create-group', groupId: Uint8Array.of(1, 2), externalSender: keyService },
      { type: 'awaiting-welcome' },
      { type: 'proposal', epoch: 3n, message: Uint8Array.of(1) },
      { type: 'commit-request', epoch: 3n },
      { type: 'commit', epoch: 3n, message: Uint8Array.of(2) },
      { type: 'welcome', welcome: Uint8Array.of(3) },
      { type: 'commit-accepted', epoch: 3n },
      { type: 'commit-rejected', epoch: 3n, reason: 'stale-epoch' },
      { type: 'error', code: 'identity-mismatch', message: 'no', fatal: true },
      { type: 'commit-request', epoch: 4n, proposals: [Buffer.alloc(32, 1).toString('base64')] },
      { type: 'commit-request', epoch: 4n, proposals: [] },
      { type: 'commit-rejected', epoch: 3n, reason: 'leaf-changed' },
      {
        type: 'recording-policy',
        policy: {
          room: 'room-1',
          version: 3,
          enabled: true,
          purpose: 'custom',
          purposeLabel: 'Teaching — résumé',
          statement: 'This visit will be recorded.',
          consentMode: 'all-party',
          part2: false,
          retentionDays: 30,
        },
      },
      { type: 'consent-recorded', policyVersion: 3, decision: 'revoke' },
      { type: 'consent-refused', reason: 'replayed' },
      { type: 'consent-status', policyVersion: 3, granted: 2, required: 3 },
    ];
    for (const message of messages) expect(decodeServerMessage(encodeServerMessage(message))).toEqual({ ok: true, value: message });
  });

  it('puts binary fields on the wire as base64 and epochs as decimal strings', () => {
    expect(JSON.parse(encodeClientMessage({ type: 'commit', epoch: 12n, commit: Uint8Array.of(255, 0) }))).toEqual({
      type: 'commit',
      epoch: '12',
      commit: '/wA=',
    });
  });

  it.each([
    ['not JSON', '{', 'malformed-json', undefined],
    ['an array', '[]', 'malformed-json', undefined],
    ['no type', '{}', 'unknown-type', 'type'],
    ['an unknown type', '{"type":"shout"}', 'unknown-type', 'type'],
    ['an unknown field', '{"type":"leave","x":1}', 'invalid-field', 'x'],
    ['a missing field', '{"type":"hello"}', 'invalid-field', 'token'],
    ['an empty token', '{"type":"hello","token":""}', 'invalid-field', 'token'],
    ['URL-safe base64', '{"type":"key-package","keyPackage":"_-8="}', 'invalid-field', 'keyPackage'],
    ['unpadded base64', '{"type":"key-package","keyPackage":"AQI"}', 'invalid-field', 'keyPackage'],
    ['non-canonical base64', '{"type":"key-package","keyPackage":"AR=="}', 'invalid-field', 'keyPackage'],
    ['a numeric epoch', '{"type":"commit","epoch":1,"commit":"AQ=="}', 'invalid-field', 'epoch'],
    ['a negative epoch', '{"type":"commit","epoch":"-1","commit":"AQ=="}', 'invalid-field', 'epoch'],
    ['a leading-zero epoch', '{"type":"commit","epoch":"01","commit":"AQ=="}', 'invalid-field', 'epoch'],
    ['chained: false (absent instead)', '{"type":"commit","epoch":"1","commit":"AQ==","chained":false}', 'invalid-field', 'chained'],
    ['a refusal code that is not an MLS error code', '{"type":"refusal","what":"proposal","code":"Alice did it"}', 'invalid-field', 'code'],
    ['an epoch beyond uint64', '{"type":"commit","epoch":"18446744073709551616","commit":"AQ=="}', 'invalid-field', 'epoch'],
  ])('refuses %s with a typed error', (_what, text, code, field) => {
    const decoded = decodeClientMessage(text);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) {
      expect(decoded.error.code).toBe(code);
      expect(decoded.error.field).toBe(field);
    }
  });

  it('refuses a malformed policy notice and bad proposal refs, naming the nested field', () => {
    const policy = { room: 'r', version: 1, enabled: true, purpose: 'custom', purposeLabel: 'x', statement: 's', consentMode: 'all-party', part2: false, retentionDays: 1 };
    expect(decodeServerMessage(JSON.stringify({ type: 'recording-policy', policy: { ...policy, consentMode: 'none' } }))).toMatchObject({
      ok: false,
      error: { field: 'policy.consentMode' },
    });
    expect(decodeServerMessage(JSON.stringify({ type: 'recording-policy', policy: { ...policy, extra: 1 } }))).toMatchObject({ ok: false, error: { field: 'policy.extra' } });
    expect(decodeServerMessage(JSON.stringify({ type: 'recording-policy', policy: { ...policy, version: -1 } }))).toMatchObject({ ok: false, error: { field: 'policy.version' } });
    expect(decodeServerMessage(JSON.stringify({ type: 'commit-request', epoch: '1', proposals: ['AQ=='] }))).toMatchObject({ ok: false, error: { field: 'proposals' } });
  });

  it('refuses oversized frames and a bad external sender', () => {
    expect(decodeClientMessage(' '.repeat(2 * 1024 * 1024))).toMatchObject({ ok: false, error: { code: 'too-large' } });
    const bad = JSON.parse(encodeServerMessage({ type: 'hello-ok', externalSender: keyService }));
    bad.externalSender.credential = 'AQ==';
    expect(decodeServerMessage(JSON.stringify(bad))).toMatchObject({ ok: false, error: { field: 'externalSender' } });
  });
});

import WebSocket from 'ws';
import {
  CallMember,
  MemberKeyPackage,
  MlsSession,
  decodeServerMessage,
  encodeClientMessage,
  type DeliveryTransport,
  type EpochUpdate,
  type ParticipantIdentity,
  type ServerMessage,
} from '../e2ee/mls/index.js';
import { generateLocalExternalSender } from './external-sender.js';
import { startKeyService, type KeyService } from './key-service.js';
import { createDevTokenAuthority, type DevTokenAuthority, type PlatformRole } from './tokens.js';
import { connectDeliveryTransport, type WsDeliveryTransport } from './ws-delivery-transport.js';

/** Real key service on 127.0.0.1, real WebSockets, real ts-mls on both ends. */

let service: KeyService;
let tokens: DevTokenAuthority;
let logLines: Array<{ level: string; message: string; context: Record<string, unknown> }> = [];
beforeEach(() => {
  logLines = [];
});
const open: Array<{ close(): void }> = [];

beforeEach(async () => {
  tokens = await createDevTokenAuthority();
  service = await startKeyService({
    host: '127.0.0.1',
    port: 0,
    tokens: tokens.verifier,
    externalSender: await generateLocalExternalSender(),
    commitTimeoutMs: 400,
    helloTimeoutMs: 2000,
    logger: {
      info: (context, message) => logLines.push({ level: 'info', message, context }),
      warn: (context, message) => logLines.push({ level: 'warn', message, context }),
      error: (context, message) => logLines.push({ level: 'error', message, context }),
    },
  });
});

afterEach(async () => {
  for (const item of open.splice(0)) item.close();
  await service.close();
});

interface TestMember {
  member: CallMember;
  transport: WsDeliveryTransport;
  epochs: EpochUpdate[];
  removed: bigint[];
  errors: Error[];
  identity: ParticipantIdentity;
}

let roomCounter = 0;
const newRoom = () => `room-${++roomCounter}-${Date.now()}`;

async function token(room: string, sub: string, role: PlatformRole = 'patient') {
  return tokens.issue({ sub, room, role });
}

async function joinMember(
  room: string,
  identity: ParticipantIdentity,
  options: { role?: PlatformRole; wrap?: (t: WsDeliveryTransport) => DeliveryTransport } = {},
): Promise<TestMember> {
  const transport = await connectDeliveryTransport(service.wsUrl);
  open.push(transport);
  const member = new CallMember({ identity, transport: options.wrap ? options.wrap(transport) : transport });
  const result: TestMember = { member, transport, epochs: [], removed: [], errors: [], identity };
  member.on('epoch', (e) => result.epochs.push(e));
  member.on('removed', (e) => result.removed.push(e.epoch));
  member.on('error', (e) => result.errors.push(e));
  await member.start(await token(room, identity.id, options.role ?? (identity.kind === 'recorder' ? 'recorder' : 'patient')));
  return result;
}

async function until(predicate: () => boolean, what: string, timeoutMs = 8000): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const last = (m: TestMember) => m.epochs.at(-1)!;

/** Everyone's last epoch is `epoch`, with identical SFrame keys and rosters, matching the service. */
async function expectAgreement(room: string, members: TestMember[]): Promise<void> {
  const target = service.room(room)!.epoch;
  await until(() => members.every((m) => m.epochs.at(-1)?.epoch === target), `all members at epoch ${target}`);
  const reference = last(members[0]!);
  for (const m of members) {
    expect(last(m).sframeEpochSecret).toEqual(reference.sframeEpochSecret);
    expect(last(m).roster).toEqual(reference.roster);
    expect(m.member.roster()).toEqual(reference.roster);
  }
  const snapshot = service.room(room)!;
  expect(snapshot.healed).toBe(true);
  expect(snapshot.members.map((e) => ({ leafIndex: e.leafIndex, id: e.id, kind: e.kind }))).toEqual(
    reference.roster.map((e) => ({ leafIndex: e.leafIndex, id: e.id, kind: e.kind })),
  );
  expect(new Set(members.map((m) => last(m).ownLeafIndex)).size).toBe(members.length);
}

const alice: ParticipantIdentity = { id: 'p-alice', kind: 'participant', name: 'Alice' };
const bob: ParticipantIdentity = { id: 'p-bob', kind: 'participant', name: 'Bob' };
const carol: ParticipantIdentity = { id: 'p-carol', kind: 'participant', name: 'Carol' };
const dave: ParticipantIdentity = { id: 'p-dave', kind: 'participant', name: 'Dave' };
const recorder: ParticipantIdentity = { id: 'rec-1', kind: 'recorder', name: 'Chaperone recorder' };

/** A raw protocol client for sending what a CallMember never would. */
async function rawClient() {
  const socket = new WebSocket(service.wsUrl);
  open.push(socket);
  const received: ServerMessage[] = [];
  const raw: string[] = [];
  let closed: number | undefined;
  socket.on('message', (data) => {
    raw.push(data.toString());
    const decoded = decodeServerMessage(data.toString());
    if (decoded.ok) received.push(decoded.value);
  });
  socket.on('close', (code) => (closed = code));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return {
    socket,
    received,
    raw,
    get closed() {
      return closed;
    },
    sendText: (text: string) => socket.send(text),
    send: (message: Parameters<typeof encodeClientMessage>[0]) => socket.send(encodeClientMessage(message)),
    next: async (type: ServerMessage['type']) => {
      await until(() => received.some((m) => m.type === type), `a ${type} message`);
      return received.find((m) => m.type === type)!;
    },
  };
}

describe('key service: MLS delivery service', () => {
  it('creates the group with the first joiner and adds three more by external proposal; all agree', async () => {
    const room = newRoom();
    const a = await joinMember(room, alice);
    expect(last(a).epoch).toBe(0n);
    const b = await joinMember(room, bob, { role: 'clinician' });
    const c = await joinMember(room, carol);
    const r = await joinMember(room, dave);
    await expectAgreement(room, [a, b, c, r]);
    expect(last(a).roster).toEqual([
      { leafIndex: 0, ...alice },
      { leafIndex: 1, ...bob },
      { leafIndex: 2, ...carol },
      { leafIndex: 3, ...dave },
    ]);
    expect(last(a).sframeEpochSecret).toHaveLength(16);
    for (const m of [a, b, c, r]) expect(m.errors).toEqual([]);
  });

  it('removes a member that leaves: it gets no key for the new epoch, the others agree on a new one', async () => {
    const room = newRoom();
    const a = await joinMember(room, alice);
    const b = await joinMember(room, bob);
    const r = await joinMember(room, dave);
    await expectAgreement(room, [a, b, r]);
    const recorderLastKey = last(r).sframeEpochSecret;
    const recorderEpochs = r.epochs.length;

    r.member.close();
    await until(() => service.room(room)!.members.length === 2 && service.room(room)!.healed, 'dave removed and the group healed');
    await expectAgreement(room, [a, b]);
    expect(last(a).roster.map((e) => e.id)).toEqual([alice.id, bob.id]);
    expect(last(a).sframeEpochSecret).not.toEqual(recorderLastKey);
    expect(r.epochs).toHaveLength(recorderEpochs);
    expect(r.member.roster()).toEqual([]);
    expect(r.member.epoch).toBeUndefined();
  });

  it('tells a member it was removed, and it holds no state after (leave with the connection open)', async () => {
    const room = newRoom();
    const a = await joinMember(room, alice);
    const c = await joinMember(room, carol);
    await expectAgreement(room, [a, c]);
    const carolKey = last(c).sframeEpochSecret;
    c.transport.send({ type: 'leave' }); // the CallMember stays attached and sees the commit
    await until(() => c.removed.length === 1, 'carol removed');
    expect(c.member.epoch).toBeUndefined();
    expect(c.member.roster()).toEqual([]);
    await until(() => service.room(room)!.healed && service.room(room)!.members.length === 1, 'healed');
    await until(() => last(a).epoch === service.room(room)!.epoch, 'alice at the healed epoch');
    expect(last(a).sframeEpochSecret).not.toEqual(carolKey);
    expect(c.epochs.at(-1)!.epoch).toBeLessThan(last(a).epoch);
  });

  it('refuses a KeyPackage whose identity does not match the token', async () => {
    const room = newRoom();
    const client = await rawClient();
    client.send({ type: 'hello', token: await token(room, 'p-mallory') });
    await client.next('hello-ok');
    const kp = await MemberKeyPackage.generate({ id: 'p-alice', kind: 'participant', name: 'Alice' });
    client.send({ type: 'key-package', keyPackage: kp.message });
    expect(await client.next('error')).toMatchObject({ code: 'identity-mismatch', fatal: true });
    await until(() => client.closed !== undefined, 'close');
    expect(service.room(room)).toBeUndefined();
  });

  it('refuses a recorder credential presented with a participant token, and a self-made one with a recorder token', async () => {
    const room = newRoom();
    const transport = await connectDeliveryTransport(service.wsUrl);
    open.push(transport);
    const member = new CallMember({ identity: recorder, transport });
    const failure = member.start(await token(room, recorder.id, 'patient'));
    await expect(failure).rejects.toMatchObject({ name: 'CallMemberError', code: 'server-error', serverCode: 'kind-mismatch' });
    const selfMade = new CallMember({ identity: recorder, transport: await connectDeliveryTransport(service.wsUrl) });
    await expect(selfMade.start(await token(room, recorder.id, 'recorder'))).rejects.toMatchObject({ serverCode: 'invalid-key-package' });
  });

  it('answers bad input with typed errors and keeps serving other rooms', async () => {
    const cases: Array<{ send: (c: Awaited<ReturnType<typeof rawClient>>) => Promise<void> | void; code: string }> = [
      { send: (c) => c.sendText('{not json'), code: 'malformed-message' },
      { send: (c) => c.sendText('{"type":"teleport"}'), code: 'unknown-type' },
      { send: (c) => c.sendText('{"type":"hello","token":"abc","extra":1}'), code: 'malformed-message' },
      { send: (c) => c.send({ type: 'leave' }), code: 'not-authenticated' },
      { send: (c) => c.send({ type: 'hello', token: 'eyJhbGciOiJub25lIn0.e30.' }), code: 'invalid-token' },
      {
        send: async (c) => {
          const other = await createDevTokenAuthority();
          c.send({ type: 'hello', token: await other.issue({ sub: 'p-x', room: 'r', role: 'patient' }) });
        },
        code: 'invalid-token',
      },
      {
        send: async (c) => {
          c.send({ type: 'hello', token: await token(newRoom(), 'p-x') });
          await c.next('hello-ok');
          c.sendText('{"type":"key-package","keyPackage":"%%%notbase64"}');
        },
        code: 'malformed-message',
      },
      {
        send: async (c) => {
          c.send({ type: 'hello', token: await token(newRoom(), 'p-x') });
          await c.next('hello-ok');
          c.send({ type: 'key-package', keyPackage: Uint8Array.of(0, 1, 0, 5, 1, 2, 3) });
        },
        code: 'invalid-key-package',
      },
    ];
    for (const testCase of cases) {
      const client = await rawClient();
      await testCase.send(client);
      expect(await client.next('error')).toMatchObject({ type: 'error', code: testCase.code, fatal: true });
      await until(() => client.closed !== undefined, `close after ${testCase.code}`);
    }
    // A binary frame is refused too.
    const binary = await rawClient();
    binary.socket.send(Buffer.from([1, 2, 3]));
    expect(await binary.next('error')).toMatchObject({ code: 'malformed-message' });

    const room = newRoom();
    const a = await joinMember(room, alice);
    const b = await joinMember(room, bob);
    await expectAgreement(room, [a, b]);
    const health = await fetch(`${service.url}/healthz`);
    expect(health.status).toBe(200);
  });

  it('accepts one commit per epoch and refuses a stale one', async () => {
    const room = newRoom();
    const a = await joinMember(room, alice);
    // A second member driven by hand, to send what a CallMember would not.
    const client = await rawClient();
    client.send({ type: 'hello', token: await token(room, bob.id) });
    const hello = (await client.next('hello-ok')) as Extract<ServerMessage, { type: 'hello-ok' }>;
    const kp = await MemberKeyPackage.generate(bob);
    client.send({ type: 'key-package', keyPackage: kp.message });
    const welcome = (await client.next('welcome')) as Extract<ServerMessage, { type: 'welcome' }>;
    const session = await MlsSession.join({ welcome: welcome.welcome, keyPackage: kp, keyService: hello.externalSender });
    expect(session.epoch).toBe(1n);
    const savedAtEpoch1 = session.save();

    // Carol joins: alice (lowest leaf) commits epoch 1 → 2; bob follows by hand.
    let seen = 0;
    const follow = async () => {
      for (; seen < client.received.length; seen++) {
        const m = client.received[seen]!;
        if (m.type === 'proposal' || m.type === 'commit') await session.processMessage(m.message);
      }
    };
    const c = await joinMember(room, carol);
    await until(() => client.received.some((m) => m.type === 'commit'), 'bob sees the commit');
    await follow();
    expect(session.epoch).toBe(2n);
    await expectAgreement(room, [a, c]);

    // Bob now submits a commit made from his epoch-1 state: the epoch already has its commit.
    const stale = (await (await MlsSession.load(savedAtEpoch1)).createCommit())!;
    client.send({ type: 'commit', epoch: 1n, commit: stale.commit });
    await until(() => client.received.some((m) => m.type === 'commit-rejected'), 'commit-rejected');
    expect(client.received.find((m) => m.type === 'commit-rejected')).toMatchObject({ epoch: 1n, reason: 'stale-epoch' });

    // A commit claiming to be chained on Bob's own previous commit, which never won an epoch.
    const unchained = (await session.createCommit())!;
    client.send({ type: 'commit', epoch: 2n, commit: unchained.commit, chained: true });
    await until(() => client.received.some((m) => m.type === 'commit-rejected' && m.reason === 'broken-chain'), 'broken-chain rejection');

    // Garbage where a commit should be: rejected, connection kept, room unaffected.
    client.send({ type: 'commit', epoch: 2n, commit: Uint8Array.of(0, 1, 0, 1, 9, 9) });
    await until(() => client.received.filter((m) => m.type === 'commit-rejected').length === 3, 'third rejection');
    expect(client.received.filter((m) => m.type === 'commit-rejected').at(-1)).toMatchObject({ reason: 'malformed-commit' });
    expect(client.closed).toBeUndefined();
    expect(service.room(room)!.epoch).toBe(2n);
  });

  it('survives a member that disconnects when asked to commit: the next member commits, the joiner gets in', async () => {
    const room = newRoom();
    let sabotage = false;
    const a = await joinMember(room, alice, {
      wrap: (t) => ({
        send: (m) => t.send(m),
        onClose: (l) => t.onClose(l),
        onMessage: (l) =>
          t.onMessage((m) => {
            if (sabotage && m.type === 'commit-request') t.close(); // dies mid-commit
            else l(m);
          }),
      }),
    });
    const b = await joinMember(room, bob);
    await expectAgreement(room, [a, b]);
    sabotage = true;
    const c = await joinMember(room, carol);
    await expectAgreement(room, [b, c]);
    expect(last(c).roster.map((e) => e.id).sort()).toEqual([bob.id, carol.id]);
    const d = await joinMember(room, dave);
    await expectAgreement(room, [b, c, d]);
    const commits = logLines.filter((l) => l.message === 'commit accepted' && l.context.roomId === room).map((l) => l.context);
    // alice dropped when asked; bob committed her removal (with ts-mls rc.10 alone and path-less, then
    // an empty healing commit), then carol's Add; carol (leaf 0 now) added dave.
    expect(commits[0]).toMatchObject({ committer: 0, adds: 1, removes: 0 });
    expect(commits.some((c) => c.committer === 1 && c.removes === 1)).toBe(true);
    expect(commits.at(-2)).toMatchObject({ committer: 1, adds: 1, healed: true });
    expect(commits.at(-1)).toMatchObject({ committer: 0, adds: 1, removes: 0, healed: true });
    expect(commits.every((c) => typeof c.healed === 'boolean')).toBe(true);
    // Nothing secret or personal in the log: no names, no tokens, no bytes.
    const text = JSON.stringify(logLines);
    for (const name of ['Alice', 'Bob', 'Carol', 'Dave', 'eyJ']) expect(text).not.toContain(name);
  });

  it('resolves two members committing the same epoch: the first wins, the loser follows the winner', async () => {
    const room = newRoom();
    let race = false;
    const rejections: ServerMessage[] = [];
    const a = await joinMember(room, alice);
    const b = await joinMember(room, bob, {
      wrap: (t) => ({
        send: (m) => t.send(m),
        onClose: (l) => t.onClose(l),
        onMessage: (l) =>
          t.onMessage((m) => {
            if (m.type === 'commit-rejected') rejections.push(m);
            l(m);
            // Bob commits every proposal at once, unasked, racing alice (who is asked).
            if (race && m.type === 'proposal') l({ type: 'commit-request', epoch: m.epoch });
          }),
      }),
    });
    await expectAgreement(room, [a, b]);
    race = true;
    const c = await joinMember(room, carol);
    await expectAgreement(room, [a, b, c]);
    const d = await joinMember(room, dave);
    await expectAgreement(room, [a, b, c, d]);
    const accepted = logLines.filter((l) => l.message === 'commit accepted' && l.context.roomId === room);
    expect(accepted).toHaveLength(3); // one per epoch, whoever was first
    for (const m of [a, b, c, d]) expect(m.errors).toEqual([]);
    for (const r of rejections) expect(r).toMatchObject({ reason: 'stale-epoch' });
    const rejected = logLines.filter((l) => l.message === 'commit rejected' && l.context.roomId === room);
    expect(rejected.map((l) => l.context.reason)).toEqual(['stale-epoch', 'stale-epoch']); // the two losers
  });

  it('passes the commit request on when a member stays silent', async () => {
    const room = newRoom();
    let silent = false;
    const a = await joinMember(room, alice, {
      wrap: (t) => ({
        send: (m) => t.send(m),
        onClose: (l) => t.onClose(l),
        onMessage: (l) => t.onMessage((m) => (silent && m.type === 'commit-request' ? undefined : l(m))),
      }),
    });
    const b = await joinMember(room, bob);
    await expectAgreement(room, [a, b]);
    silent = true;
    const c = await joinMember(room, carol);
    await expectAgreement(room, [a, b, c]);
  });

  it('lets the next joiner create a new group when every member is gone', async () => {
    const room = newRoom();
    const a = await joinMember(room, alice);
    a.member.close();
    a.transport.close();
    await until(() => service.room(room) === undefined || service.room(room)!.members.length === 0, 'room emptied');
    const b = await joinMember(room, bob);
    expect(last(b).epoch).toBe(0n);
    expect(last(b).roster).toEqual([{ leafIndex: 0, ...bob }]);
  });
});

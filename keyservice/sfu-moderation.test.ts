import { freePort } from '../devstack/free-port.js';
import { startJanusServer, type JanusServer } from '../devstack/janus-server.js';
import { privateNetwork } from '../devstack/private-network.js';
import { JanusSession, type JanusPluginEvent } from '../sfu/janus-session.js';
import { JanusSfuModeration } from './sfu-moderation.js';

/** The SFU side of removing a recorder, against the real Janus 1.1 VideoRoom. */

const network = privateNetwork();
const ROOM = 7301;
const SECRET = 'room-admin-secret';

describe('JanusSfuModeration', () => {
  let janus: JanusServer;
  const sessions: JanusSession[] = [];

  beforeAll(async () => {
    janus = await startJanusServer({ mediaInterface: network.mediaInterface, mediaAddress: network.mediaAddress, wsPort: await freePort() });
    const admin = await JanusSession.connect(janus.wsUrl);
    const handle = await admin.attach('janus.plugin.videoroom');
    // A recording room: E2EE only, and private ids required so that a kick also cuts the kicked
    // participant's subscriptions (janus_videoroom.c, "kick").
    const created = await handle.requestSync({ request: 'create', room: ROOM, secret: SECRET, require_e2ee: true, require_pvtid: true, publishers: 8 });
    expect(created.videoroom).toBe('created');
    await admin.destroy();
  }, 30_000);

  afterAll(async () => {
    for (const session of sessions) await session.destroy().catch(() => undefined);
    await janus?.stop();
  });

  async function joinAs(display: string) {
    const session = await JanusSession.connect(janus.wsUrl);
    sessions.push(session);
    const handle = await session.attach('janus.plugin.videoroom');
    const events: JanusPluginEvent[] = [];
    handle.onEvent((event) => events.push(event));
    const joined = await handle.requestAsync({ request: 'join', ptype: 'publisher', room: ROOM, display });
    expect(joined.data.videoroom).toBe('joined');
    return { id: joined.data.id, events };
  }

  async function displays(): Promise<string[]> {
    const session = await JanusSession.connect(janus.wsUrl);
    try {
      const handle = await session.attach('janus.plugin.videoroom');
      const listed = await handle.requestSync({ request: 'listparticipants', room: ROOM });
      return (listed.participants as Array<{ display: string }>).map((p) => p.display).sort();
    } finally {
      await session.destroy();
    }
  }

  test('kicks the recorder (found by its display label) and nobody else', async () => {
    const recorder = await joinAs('recorder-svc');
    await joinAs('participant');
    expect(await displays()).toEqual(['participant', 'recorder-svc']);
    const moderation = new JanusSfuModeration({ url: janus.wsUrl, roomFor: (roomId) => (roomId === 'room-a' ? ROOM : undefined), secret: SECRET });
    expect(await moderation.dropRecorder({ roomId: 'room-a', recorderId: 'recorder-svc' })).toEqual({ dropped: 1 });
    expect(await displays()).toEqual(['participant']);
    const deadline = Date.now() + 5000;
    while (!recorder.events.some((e) => e.data.leaving === 'ok' && e.data.reason === 'kicked') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(recorder.events.some((e) => e.data.leaving === 'ok' && e.data.reason === 'kicked')).toBe(true);
    // A room this SFU does not serve: nothing to drop. A recorder already gone: nothing either.
    expect(await moderation.dropRecorder({ roomId: 'elsewhere', recorderId: 'recorder-svc' })).toEqual({ dropped: 0 });
    expect(await moderation.dropRecorder({ roomId: 'room-a', recorderId: 'recorder-svc' })).toEqual({ dropped: 0 });
  });

  test('fails loudly without the room secret', async () => {
    await joinAs('recorder-2');
    const moderation = new JanusSfuModeration({ url: janus.wsUrl, roomFor: () => ROOM });
    await expect(moderation.dropRecorder({ roomId: 'room-a', recorderId: 'recorder-2' })).rejects.toMatchObject({ name: 'JanusError' });
    expect(() => new JanusSfuModeration({ url: 'http://x', roomFor: () => 1 })).toThrow(TypeError);
  });
});

import { startJanusServer, type JanusServer } from '../devstack/janus-server.js';
import { createE2eeVideoRoom } from '../sfu/janus-videoroom.js';
import { JanusSession } from '../sfu/janus-session.js';
import { privateNetwork } from '../devstack/private-network.js';
import { freePort } from '../devstack/free-port.js';

const network = privateNetwork();

describe('Janus VideoRoom in the private namespace', () => {
  let janus: JanusServer;
  beforeAll(async () => {
    janus = await startJanusServer({ mediaInterface: network.mediaInterface, mediaAddress: network.mediaAddress, wsPort: await freePort() });
  });
  afterAll(async () => {
    await janus?.stop();
  });

  test('creates an E2EE-only room, idempotently', async () => {
    await createE2eeVideoRoom(janus.wsUrl, 4242, 'test');
    await createE2eeVideoRoom(janus.wsUrl, 4242, 'test');
    const session = await JanusSession.connect(janus.wsUrl);
    const handle = await session.attach('janus.plugin.videoroom');
    const list = await handle.requestSync({ request: 'list' });
    const room = (list.list as Array<{ room: number; require_e2ee?: boolean }>).find((r) => r.room === 4242);
    expect(room?.require_e2ee).toBe(true);
    await session.destroy();
  });

  test('a publisher that does not declare E2EE is refused', async () => {
    const session = await JanusSession.connect(janus.wsUrl);
    const handle = await session.attach('janus.plugin.videoroom');
    await handle.requestAsync({ request: 'join', ptype: 'publisher', room: 4242, display: 'plain' });
    const sdp = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\na=sendonly\r\na=mid:0\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\na=setup:actpass\r\n';
    await expect(handle.requestAsync({ request: 'publish' }, { type: 'offer', sdp })).rejects.toMatchObject({ code: 433 });
    await session.destroy();
  });
});

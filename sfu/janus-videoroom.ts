import { JanusSession, type JanusHandle, type JanusPluginEvent } from './janus-session.js';
import type { MediaKind, SfuJoinOptions, SfuRoomConnection } from './sfu-adapter.js';

/**
 * SFU adapter for the Janus VideoRoom plugin (Janus 1.1), in the browser. One publisher handle; one
 * subscriber handle (and peer connection) per remote publisher, so a renegotiation for one participant
 * never disturbs another's media. Every offer and answer declares `e2ee: true` in the JSEP object, which
 * a room created with `require_e2ee` demands (harness.md).
 */

const PLUGIN = 'janus.plugin.videoroom';

interface PublisherInfo {
  id: number | string;
  display?: string;
}

export async function joinJanusVideoRoom(options: SfuJoinOptions): Promise<SfuRoomConnection> {
  const session = await JanusSession.connect(options.url);
  const publisher = await session.attach(PLUGIN);
  const joined = await publisher.requestAsync({ request: 'join', ptype: 'publisher', room: options.room, display: options.label });
  if (joined.data.videoroom !== 'joined') throw new Error(`unexpected join reply: ${String(joined.data.videoroom)}`);
  // Rooms require private ids (createE2eeVideoRoom): a subscriber presents its publisher's private_id, so
  // when the key service kicks a participant (a recorder that must go), Janus also cuts its subscriptions.
  const privateId = typeof joined.data.private_id === 'number' ? joined.data.private_id : undefined;
  return new JanusVideoRoomConnection(session, publisher, options, String(joined.data.id), (joined.data.publishers as PublisherInfo[]) ?? [], privateId);
}

class JanusVideoRoomConnection implements SfuRoomConnection {
  private readonly subscribers = new Map<string, { handle: JanusHandle; pc: RTCPeerConnection }>();
  private publisherPc: RTCPeerConnection | undefined;
  private subscribing = false;
  private knownPublishers: PublisherInfo[];

  constructor(
    private readonly session: JanusSession,
    private readonly publisher: JanusHandle,
    private readonly options: SfuJoinOptions,
    readonly ownFeedId: string,
    initialPublishers: PublisherInfo[],
    private readonly privateId: number | undefined,
  ) {
    this.knownPublishers = initialPublishers;
    publisher.onEvent((event) => this.onPublisherEvent(event));
  }

  async publish(tracks: MediaStreamTrack[], prepareSender: (sender: RTCRtpSender, kind: MediaKind) => void): Promise<void> {
    const pc = new RTCPeerConnection({ iceServers: [] });
    this.publisherPc = pc;
    for (const track of tracks) {
      const transceiver = pc.addTransceiver(track, { direction: 'sendonly' });
      prepareSender(transceiver.sender, track.kind as MediaKind);
    }
    pc.onicecandidate = (event) => this.publisher.trickle(event.candidate ? event.candidate.toJSON() : null);
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    const reply = await this.publisher.requestAsync(
      { request: 'publish', audio: true, video: true },
      { type: 'offer', sdp: offer.sdp ?? '', e2ee: true },
    );
    if (!reply.jsep) throw new Error(`SFU refused to publish: ${JSON.stringify(reply.data)}`);
    await pc.setRemoteDescription({ type: reply.jsep.type, sdp: reply.jsep.sdp });
  }

  subscribeAll(): void {
    this.subscribing = true;
    for (const info of this.knownPublishers) void this.subscribe(info);
  }

  peerConnections(): RTCPeerConnection[] {
    const all = [...this.subscribers.values()].map((s) => s.pc);
    return this.publisherPc ? [this.publisherPc, ...all] : all;
  }

  private onPublisherEvent(event: JanusPluginEvent): void {
    const data = event.data;
    if (data.janus === 'closed') {
      this.options.events.disconnected();
      return;
    }
    const publishers = data.publishers as PublisherInfo[] | undefined;
    if (publishers) {
      for (const info of publishers) {
        if (!this.knownPublishers.some((p) => String(p.id) === String(info.id))) this.knownPublishers.push(info);
        if (this.subscribing) void this.subscribe(info);
      }
    }
    const gone = data.unpublished ?? data.leaving;
    if (gone !== undefined && gone !== 'ok') void this.dropFeed(String(gone));
  }

  private async subscribe(info: PublisherInfo): Promise<void> {
    const feedId = String(info.id);
    if (feedId === this.ownFeedId || this.subscribers.has(feedId)) return;
    const handle = await this.session.attach(PLUGIN);
    const pc = new RTCPeerConnection({ iceServers: [] });
    this.subscribers.set(feedId, { handle, pc });
    pc.onicecandidate = (event) => handle.trickle(event.candidate ? event.candidate.toJSON() : null);
    pc.ontrack = (event) => {
      this.options.events.track({
        feedId,
        label: info.display ?? '',
        kind: event.track.kind as MediaKind,
        track: event.track,
        receiver: event.receiver,
      });
    };
    try {
      const attached = await handle.requestAsync({
        request: 'join',
        ptype: 'subscriber',
        room: this.options.room,
        streams: [{ feed: info.id }],
        ...(this.privateId === undefined ? {} : { private_id: this.privateId }),
      });
      if (!attached.jsep) throw new Error(`SFU sent no offer for feed: ${JSON.stringify(attached.data)}`);
      await pc.setRemoteDescription({ type: attached.jsep.type, sdp: attached.jsep.sdp });
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      await handle.requestAsync({ request: 'start' }, { type: 'answer', sdp: answer.sdp ?? '', e2ee: true });
    } catch (error) {
      await this.dropFeed(feedId);
      throw error;
    }
  }

  private async dropFeed(feedId: string): Promise<void> {
    this.knownPublishers = this.knownPublishers.filter((p) => String(p.id) !== feedId);
    const subscriber = this.subscribers.get(feedId);
    if (!subscriber) return;
    this.subscribers.delete(feedId);
    subscriber.pc.close();
    await subscriber.handle.detach();
    this.options.events.feedGone(feedId);
  }

  async leave(): Promise<void> {
    for (const feedId of [...this.subscribers.keys()]) await this.dropFeed(feedId);
    this.publisherPc?.close();
    await this.publisher.requestAsync({ request: 'leave' }).catch(() => undefined);
    await this.session.destroy();
  }
}

/**
 * Creates an E2EE-only VideoRoom (control plane; from Node or a page). Idempotent. Subscribers must
 * present their publisher's private id (`require_pvtid`), so a kick cuts every stream of the kicked
 * participant; `secret` protects the room's moderation (kick, destroy).
 */
export async function createE2eeVideoRoom(url: string, room: number, description: string, options: { secret?: string } = {}): Promise<void> {
  const session = await JanusSession.connect(url);
  try {
    const handle = await session.attach(PLUGIN);
    const exists = await handle.requestSync({ request: 'exists', room });
    if (exists.exists === true) return;
    const created = await handle.requestSync({
      request: 'create',
      room,
      description,
      require_e2ee: true,
      require_pvtid: true,
      ...(options.secret === undefined ? {} : { secret: options.secret }),
      publishers: 16,
      audiocodec: 'opus',
      videocodec: 'vp8',
      bitrate: 1_500_000,
      permanent: false,
    });
    if (created.videoroom !== 'created') throw new Error(`SFU did not create the room: ${JSON.stringify(created)}`);
  } finally {
    await session.destroy();
  }
}

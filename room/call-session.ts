import { CallMember, type ConsentDecision, type ConsentStatus, type ParticipantIdentity, type RecordingPolicyNotice, type RosterEntry } from '../e2ee/mls/index.js';
import type { PageToWorker, StreamStats, TransformOptions, WorkerToPage } from '../e2ee/transform/worker-protocol.js';
import type { MediaKind } from '../e2ee/transform/codec-profile.js';
import { joinJanusVideoRoom } from '../sfu/janus-videoroom.js';
import type { RemoteTrack, SfuRoomConnection } from '../sfu/sfu-adapter.js';
import { openDeliverySocket } from './delivery-socket.js';
import { takeRecorderIdentity } from './consent-recorder-keys.js';

/**
 * One participant's end-to-end-encrypted call: MLS membership through the key service, media through the
 * SFU, and SFrame in the encoded-transform worker between them. The roster shown to the person is the MLS
 * roster — whoever holds the keys — not the SFU's participant list.
 */

export interface CallConfig {
  /** The key service's MLS delivery endpoint (ws://…). */
  keyServiceUrl: string;
  /** The SFU's signalling endpoint (ws://…). */
  sfuUrl: string;
  sfuRoom: number;
  /** Platform-issued token; its subject is this participant's pseudonymous id. */
  token: string;
  participantId: string;
  displayName: string;
  /** Where the bundled media worker is served. */
  workerUrl?: string;
  /** Camera capture size; default 640x360 (a telehealth call's usual size; larger costs every member more). */
  capture?: { width: number; height: number };
  /**
   * Recorder stand-in (tests, benchmarks): join as this key-service-issued recorder credential (base64;
   * keys from `chaperoneConsent.prepareRecorderKeys()`), publish nothing, and only decrypt.
   */
  recorderCredential?: string;
}

export interface RemoteStream {
  streamId: string;
  feedId: string;
  kind: MediaKind;
  track: MediaStreamTrack;
  /** MLS leaf of the member whose key opened this stream's frames (known after the first frame). */
  senderLeafIndex?: number;
}

export interface CallEvents {
  roster(roster: RosterEntry[]): void;
  /** This participant's own camera, for the self-view. */
  localMedia(stream: MediaStream): void;
  remoteStream(stream: RemoteStream): void;
  remoteStreamGone(streamId: string): void;
  streamSender(streamId: string, senderLeafIndex: number): void;
  status(text: string): void;
  removed(): void;
  /** The room's recording policy (consent prompt). */
  policy?(policy: RecordingPolicyNotice): void;
  consentStatus?(status: ConsentStatus): void;
}

export interface CallStats {
  epoch: string | undefined;
  ownLeafIndex: number | undefined;
  roster: RosterEntry[];
  streams: StreamStats[];
  rtp: Array<Record<string, unknown>>;
  /** Wall-clock time (ms) at which each epoch was installed here. */
  epochTimesMs: Record<string, number>;
}

export class CallSession {
  private readonly worker: Worker;
  private member: CallMember | undefined;
  private sfu: SfuRoomConnection | undefined;
  private delivery: { close(): void } | undefined;
  private readonly remote = new Map<string, RemoteStream>();
  private currentEpoch: string | undefined;
  private ownLeafIndex: number | undefined;
  private readonly epochTimesMs: Record<string, number> = {};
  private pendingStats: Array<(streams: StreamStats[]) => void> = [];

  constructor(
    private readonly config: CallConfig,
    private readonly events: CallEvents,
  ) {
    this.worker = new Worker(config.workerUrl ?? 'media-worker.js');
    this.worker.onmessage = (event: MessageEvent<WorkerToPage>) => this.onWorkerMessage(event.data);
  }

  async join(): Promise<void> {
    this.events.status('Connecting to the key service…');
    const transport = await openDeliverySocket(this.config.keyServiceUrl);
    this.delivery = transport;
    const recorder = this.config.recorderCredential === undefined ? undefined : takeRecorderIdentity(this.config.recorderCredential);
    const identity: ParticipantIdentity = recorder?.identity ?? { id: this.config.participantId, kind: 'participant', name: this.config.displayName };
    const member = new CallMember({ identity, transport, ...(recorder === undefined ? {} : { signatureKeys: recorder.keys }) });
    this.member = member;
    member.on('policy', (policy) => this.events.policy?.(policy));
    member.on('consent-status', (status) => this.events.consentStatus?.(status));
    member.on('epoch', (update) => {
      this.currentEpoch = update.epoch.toString();
      this.ownLeafIndex = update.ownLeafIndex;
      this.epochTimesMs[this.currentEpoch] = Date.now();
      const message: PageToWorker = {
        type: 'epoch',
        epoch: update.epoch,
        ownLeafIndex: update.ownLeafIndex,
        epochSecret: update.sframeEpochSecret,
        rosterLeafIndices: update.roster.map((entry) => entry.leafIndex),
      };
      this.worker.postMessage(message);
      this.events.roster(update.roster);
    });
    member.on('removed', () => {
      this.worker.postMessage({ type: 'removed' } satisfies PageToWorker);
      this.events.removed();
    });
    if (recorder !== undefined) {
      // A recorder publishes nothing; it joins the SFU under its recorder id (SfuModeration finds it so).
      const [sfu] = await Promise.all([
        joinJanusVideoRoom({
          url: this.config.sfuUrl,
          room: this.config.sfuRoom,
          label: recorder.identity.id,
          events: {
            track: (remote) => this.onRemoteTrack(remote),
            feedGone: (feedId) => this.onFeedGone(feedId),
            disconnected: () => this.events.status('Lost the connection to the video server.'),
          },
        }),
        member.start(this.config.token),
      ]);
      this.sfu = sfu;
      sfu.subscribeAll();
      this.events.status('End-to-end encrypted');
      return;
    }
    await member.start(this.config.token);
    this.events.status('Joining the call…');

    const capture = this.config.capture ?? { width: 640, height: 360 };
    const media = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: capture.width, height: capture.height } });
    this.events.localMedia(media);
    this.sfu = await joinJanusVideoRoom({
      url: this.config.sfuUrl,
      room: this.config.sfuRoom,
      label: 'participant',
      events: {
        track: (remote) => this.onRemoteTrack(remote),
        feedGone: (feedId) => this.onFeedGone(feedId),
        disconnected: () => this.events.status('Lost the connection to the video server.'),
      },
    });
    await this.sfu.publish(media.getTracks(), (sender, kind) => {
      const options: TransformOptions = { side: 'send', kind, streamId: `send:${kind}` };
      sender.transform = new RTCRtpScriptTransform(this.worker, options);
    });
    this.sfu.subscribeAll();
    this.events.status('End-to-end encrypted');
  }

  private onRemoteTrack(remote: RemoteTrack): void {
    const streamId = `feed-${remote.feedId}:${remote.kind}`;
    const options: TransformOptions = { side: 'receive', kind: remote.kind, streamId };
    remote.receiver.transform = new RTCRtpScriptTransform(this.worker, options);
    const stream: RemoteStream = { streamId, feedId: remote.feedId, kind: remote.kind, track: remote.track };
    this.remote.set(streamId, stream);
    this.events.remoteStream(stream);
  }

  private onFeedGone(feedId: string): void {
    for (const [streamId, stream] of this.remote) {
      if (stream.feedId !== feedId) continue;
      this.remote.delete(streamId);
      this.events.remoteStreamGone(streamId);
    }
  }

  private onWorkerMessage(message: WorkerToPage): void {
    if (message.type === 'stream-sender') {
      const stream = this.remote.get(message.streamId);
      if (stream) stream.senderLeafIndex = message.senderLeafIndex;
      this.events.streamSender(message.streamId, message.senderLeafIndex);
    } else if (message.type === 'stats') {
      const waiting = this.pendingStats;
      this.pendingStats = [];
      waiting.forEach((resolve) => resolve(message.streams));
    }
  }

  roster(): RosterEntry[] {
    return this.member?.roster() ?? [];
  }

  /** Grants or revokes consent to the current recording policy (signed with this member's leaf key). */
  async consent(decision: ConsentDecision): Promise<void> {
    if (this.member === undefined) throw new Error('not in a call');
    await this.member.consent(decision);
  }

  async stats(): Promise<CallStats> {
    const streams = await new Promise<StreamStats[]>((resolve) => {
      this.pendingStats.push(resolve);
      this.worker.postMessage({ type: 'stats' } satisfies PageToWorker);
    });
    const rtp: Array<Record<string, unknown>> = [];
    for (const pc of this.sfu?.peerConnections() ?? []) {
      const report = await pc.getStats();
      report.forEach((entry: Record<string, unknown>) => {
        if (entry.type === 'inbound-rtp' || entry.type === 'outbound-rtp') rtp.push({ ...entry });
      });
    }
    return { epoch: this.currentEpoch, ownLeafIndex: this.ownLeafIndex, roster: this.roster(), streams, rtp, epochTimesMs: { ...this.epochTimesMs } };
  }

  /** Leaves the MLS group (the key service proposes our removal) while media keeps flowing. */
  leaveGroup(): void {
    this.member?.close();
    this.delivery?.close();
  }

  async leave(): Promise<void> {
    this.leaveGroup();
    await this.sfu?.leave();
    this.worker.terminate();
  }
}

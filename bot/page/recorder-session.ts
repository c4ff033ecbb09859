import { CallMember, MemberSignatureKeys, base64Decode, base64Encode, decodeIdentity, isIssuedRecorder } from '../../e2ee/mls/index.js';
import { joinJanusVideoRoom } from '../../sfu/janus-videoroom.js';
import { openDeliverySocket } from '../../room/delivery-socket.js';
import type { PageControlMessage } from '../wire/control-message.js';
import { epochBitsOf } from '../../e2ee/keys/index.js';
import type { RecorderConfig, RecorderPageApi, RecorderPageToWorker, RecorderTransformOptions } from './recorder-page-protocol.js';

/**
 * The recorder's page logic, one page per call, in its own browser context. It joins the MLS group through
 * the key service as a visible member with a recorder credential, subscribes to every publisher at the
 * SFU, and attaches the recorder worker to every receiver. It shows nothing to anyone; it never decodes
 * media. (`onTrack` lets the transcoding baseline of bench/recorder.ts attach its MediaRecorders.)
 */

export interface RecorderPageHooks {
  onTrack?(track: MediaStreamTrack, kind: 'audio' | 'video'): void;
}

const RTP_STATS_INTERVAL_MS = 2000;

interface InboundRtpFigures {
  type?: string;
  pliCount?: number;
  firCount?: number;
  framesDecoded?: number;
  frameWidth?: number;
  frameHeight?: number;
  packetsReceived?: number;
  packetsLost?: number;
}

export function createRecorderPageApi(hooks: RecorderPageHooks = {}): RecorderPageApi {
  let signatureKeys: MemberSignatureKeys | undefined;
  let activeMember: CallMember | undefined;
  let activeWorker: Worker | undefined;

  async function createSignatureKey(): Promise<string> {
    signatureKeys = await MemberSignatureKeys.generate();
    return base64Encode(signatureKeys.publicKey);
  }

  async function start(config: RecorderConfig): Promise<{ epoch: string; ownLeafIndex: number }> {
    const worker = new Worker(config.workerUrl ?? 'recorder-worker.js');
    activeWorker = worker;
    const post = (message: RecorderPageToWorker) => worker.postMessage(message);
    const control = (message: PageControlMessage) => post({ type: 'control', message });
    await new Promise<void>((resolve, reject) => {
      worker.onmessage = (event) => {
        if (event.data?.type === 'sink-open') resolve();
        if (event.data?.type === 'sink-closed') reject(new Error('recorder process refused the frame socket'));
      };
      post({ type: 'connect', frameSinkUrl: config.frameSinkUrl, callSecret: config.callSecret });
    });

    if (!signatureKeys) throw new Error('createSignatureKey() must come first: the credential is issued for that key');
    const credentialBytes = base64Decode(config.credential);
    const identity = credentialBytes ? decodeIdentity(credentialBytes) : undefined;
    if (!identity || !isIssuedRecorder(identity)) throw new Error('config.credential is not a recorder credential issued by the key service');
    const transport = await openDeliverySocket(config.deliveryUrl);
    const member = new CallMember({ identity, transport, signatureKeys });
    member.on('epoch', (update) => {
      post({
        type: 'epoch',
        epoch: update.epoch,
        ownLeafIndex: update.ownLeafIndex,
        epochSecret: update.sframeEpochSecret,
        rosterLeafIndices: update.roster.map((entry) => entry.leafIndex),
      });
      control({
        type: 'roster',
        epoch: update.epoch.toString(),
        epochBits: epochBitsOf(update.epoch),
        members: update.roster.map(({ leafIndex, id, kind }) => ({ leafIndex, id, kind })),
      });
    });
    member.on('removed', ({ epoch }) => {
      post({ type: 'removed' });
      control({ type: 'removed', epoch: epoch.toString() });
    });
    member.on('error', (error) => control({ type: 'error', code: error.code, message: error.message }));
    await member.start(config.token);
    activeMember = member;

    let nextStream = 1;
    const streamsByFeed = new Map<string, number[]>();
    const receivers = new Map<number, RTCRtpReceiver>();
    // Key-frame requests (PLI/FIR) are what a careless recorder inflicts on the senders: report them.
    setInterval(async () => {
      for (const [streamNumber, receiver] of receivers) {
        if (receiver.track.readyState === 'ended') {
          receivers.delete(streamNumber);
          continue;
        }
        (await receiver.getStats()).forEach((entry: InboundRtpFigures) => {
          if (entry.type !== 'inbound-rtp') return;
          control({
            type: 'stream-rtp',
            streamNumber,
            pliCount: entry.pliCount ?? 0,
            firCount: entry.firCount ?? 0,
            // What reached Chromium's decoder: the recorder's 16x16 stand-ins, or the real frames (baseline).
            ...(entry.framesDecoded !== undefined ? { framesDecoded: entry.framesDecoded, frameWidth: entry.frameWidth ?? 0, frameHeight: entry.frameHeight ?? 0 } : {}),
            packetsReceived: entry.packetsReceived ?? 0,
            packetsLost: entry.packetsLost ?? 0,
          });
        });
      }
    }, RTP_STATS_INTERVAL_MS);
    const sfu = await joinJanusVideoRoom({
      url: config.sfuUrl,
      room: config.sfuRoom,
      // The recorder's credential id: the key service finds the recorder at the SFU by it, to drop it
      // if members fail to commit its removal.
      label: identity.id,
      events: {
        track(remote) {
          const streamNumber = nextStream++;
          const options: RecorderTransformOptions = { streamNumber, kind: remote.kind };
          control({ type: 'stream-start', streamNumber, kind: remote.kind, codec: remote.kind === 'video' ? 'vp8' : 'opus', feedId: remote.feedId });
          remote.receiver.transform = new RTCRtpScriptTransform(worker, options);
          receivers.set(streamNumber, remote.receiver);
          hooks.onTrack?.(remote.track, remote.kind);
          remote.track.addEventListener('ended', () => control({ type: 'stream-end', streamNumber }));
          streamsByFeed.set(remote.feedId, [...(streamsByFeed.get(remote.feedId) ?? []), streamNumber]);
        },
        feedGone(feedId) {
          for (const streamNumber of streamsByFeed.get(feedId) ?? []) control({ type: 'stream-end', streamNumber });
          streamsByFeed.delete(feedId);
        },
        disconnected() {
          control({ type: 'error', code: 'sfu-disconnected', message: 'lost the SFU connection' });
        },
      },
    });
    sfu.subscribeAll();
    const joined = { epoch: String(member.epoch ?? ''), ownLeafIndex: member.ownLeafIndex ?? -1 };
    control({ type: 'joined', epoch: joined.epoch, ownLeafIndex: joined.ownLeafIndex });
    return joined;
  }

  function leave(): void {
    activeWorker?.postMessage({ type: 'finish' } satisfies RecorderPageToWorker);
    activeMember?.close();
  }

  return { createSignatureKey, start, leave };
}

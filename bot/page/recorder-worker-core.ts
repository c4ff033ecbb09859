import { FrameDecryptor } from '../../e2ee/transform/frame-crypto.js';
import { SFrameKeySchedule, parseKid } from '../../e2ee/keys/index.js';
import { DEFAULT_CIPHER_SUITE, decodeHeader } from '../../e2ee/sframe/index.js';
import { clearPrefixLength, isVp8KeyFrame } from '../../e2ee/transform/codec-profile.js';
import { FrameBatchWriter } from '../wire/frame-message.js';
import { rtpTimestampIsNewer } from '../wire/rtp-timestamp.js';
import { TINY_VP8_KEY_FRAME } from './tiny-vp8-key-frame.js';
import type { RecorderPageToWorker, RecorderTransformOptions, RecorderWorkerToPage } from './recorder-page-protocol.js';

/**
 * The recorder's encoded-transform worker. Each received frame is opened with SFrame (attributed by its
 * KID to the member that sealed it), sent out of the page in binary batches, and never decoded:
 * video frames are replaced by a tiny key frame for the decoder (no key-frame request storm), audio frames
 * are not handed on. When the socket to the recorder process is behind, the transform waits (backpressure
 * into Chromium's receive queue) rather than dropping.
 *
 * Mode 'decode' is the naive recorder bench/recorder.ts compares against: frames are opened and handed
 * to Chromium's decoders (for the page to re-encode with MediaRecorder); nothing leaves as frames.
 */

declare const self: DedicatedWorkerGlobalScope;

export type RecorderWorkerMode = 'stream-out' | 'decode';

export function runRecorderWorker(mode: RecorderWorkerMode): void {

  const HIGH_WATER_BYTES = 4 * 1024 * 1024;
  const KEY_FRAME_REQUEST_INTERVAL_MS = 1000;
  /** Janus asks the publisher for a key frame when a subscription starts; it arrives well within this. */
  const SUBSCRIPTION_KEY_FRAME_GRACE_MS = 1500;
  /**
   * Frames wait at most this long in the batch before they leave the page. Bounds what a crash of the
   * page loses beyond ffmpeg's cluster (1 s; the issue allows 2 s), and trades it for CPU: a call's ~160
   * frames a second go out as ~5 messages instead of 160 (see wire/frame-message.ts).
   */
  const BATCH_HOLD_MS = 200;
  const BATCH_FLUSH_BYTES = 256 * 1024;
  const STREAM_STATS_INTERVAL_MS = 2000;

  const decryptors = new Set<FrameDecryptor>();
  const keys = new SFrameKeySchedule({
    onEpochErased: ({ epochBits }) => decryptors.forEach((decryptor) => decryptor.forgetEpoch(epochBits)),
  });
  let socket: WebSocket | undefined;
  interface StreamCounts {
    frames: number;
    forwarded: number;
    failures: Record<string, number>;
    sealed: SealedSpan;
  }

  /**
   * How many frames the sender sealed between the first and the last frame this stream opened, from the
   * SFrame CTR (RFC 9605 §4.3: one per frame, per key): with frames opened, it tells what was lost before
   * the recorder (network, SFU) from what the recorder lost itself. Spans of earlier keys are summed.
   */
  class SealedSpan {
    private kid: bigint | undefined;
    private first = 0n;
    private last = 0n;
    private earlier = 0;

    see(kid: bigint, ctr: bigint): void {
      if (kid !== this.kid) {
        this.earlier = this.total();
        this.kid = kid;
        this.first = this.last = ctr;
      } else if (ctr > this.last) this.last = ctr;
      else if (ctr < this.first) this.first = ctr;
    }

    total(): number {
      return this.kid === undefined ? this.earlier : this.earlier + Number(this.last - this.first) + 1;
    }
  }
  const streams: Record<number, StreamCounts> = {};
  /** Video streams that need a key frame before their next segment can start. */
  const wantKeyFrame = new Map<number, (refusedRtpTimestamp: number | undefined) => void>();
  const batch = new FrameBatchWriter();
  let finishing = false;
  let batchTimer: ReturnType<typeof setTimeout> | undefined;

  /** Sends the frames batched so far (before any control message, so the recorder sees them in order). */
  function flushFrames(): void {
    if (batchTimer !== undefined) {
      clearTimeout(batchTimer);
      batchTimer = undefined;
    }
    if (batch.frames === 0) return;
    const bytes = batch.take();
    if (socket?.readyState === WebSocket.OPEN) socket.send(bytes);
  }

  function post(message: RecorderWorkerToPage): void {
    self.postMessage(message);
  }

  function sendControl(text: string): void {
    flushFrames();
    if (socket?.readyState === WebSocket.OPEN) socket.send(text);
  }

  async function drained(): Promise<void> {
    while (socket && socket.readyState === WebSocket.OPEN && socket.bufferedAmount > HIGH_WATER_BYTES) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  self.onmessage = (event: MessageEvent<RecorderPageToWorker>) => {
    const message = event.data;
    switch (message.type) {
      case 'connect': {
        socket = new WebSocket(message.frameSinkUrl);
        socket.binaryType = 'arraybuffer';
        socket.onopen = () => {
          socket?.send(JSON.stringify({ type: 'hello', callSecret: message.callSecret }));
          post({ type: 'sink-open' });
        };
        socket.onclose = () => post({ type: 'sink-closed' });
        socket.onmessage = (incoming) => {
          // The recorder process asks for a key frame when a track segment must (re)start.
          try {
            const request = JSON.parse(String(incoming.data)) as { type?: string; streamNumber?: number; refusedRtpTimestamp?: number };
            if (request.type === 'request-key-frame' && typeof request.streamNumber === 'number') {
              wantKeyFrame.get(request.streamNumber)?.(typeof request.refusedRtpTimestamp === 'number' ? request.refusedRtpTimestamp : undefined);
            }
          } catch {
            // not a request: ignore
          }
        };
        break;
      }
      case 'epoch':
        void keys.installEpoch({
          epoch: message.epoch,
          ownLeafIndex: message.ownLeafIndex,
          epochSecret: message.epochSecret,
          rosterLeafIndices: message.rosterLeafIndices,
        });
        break;
      case 'removed':
        keys.clear();
        break;
      case 'finish':
        // The recording is finishing: what was received so far leaves now with final counts, and
        // nothing after it is sent, so the counts describe exactly what the files hold.
        sendStreamStats();
        flushFrames();
        finishing = true;
        break;
      case 'control':
        sendControl(JSON.stringify(message.message));
        break;
    }
  };

  // Per-stream counts for the track manifest (decrypt failures by reason), the recorder's metrics and the
  // session's closing log line; sent every few seconds and once more when the recording finishes.
  function sendStreamStats(): void {
    for (const [streamNumber, counts] of Object.entries(streams)) {
      const failed = Object.values(counts.failures).reduce((n, v) => n + v, 0);
      sendControl(
        JSON.stringify({
          type: 'stream-stats',
          streamNumber: Number(streamNumber),
          failures: counts.failures,
          framesDecrypted: counts.frames - failed,
          framesSealed: counts.sealed.total(),
        }),
      );
    }
  }
  setInterval(sendStreamStats, STREAM_STATS_INTERVAL_MS);

  self.onrtctransform = (event: RTCTransformEvent) => {
    const transformer = event.transformer;
    const { streamNumber, kind } = transformer.options as RecorderTransformOptions;
    const counts: StreamCounts = (streams[streamNumber] = { frames: 0, forwarded: 0, failures: {}, sealed: new SealedSpan() });
    const decryptor = new FrameDecryptor(kind, DEFAULT_CIPHER_SUITE, keys);
    decryptors.add(decryptor);
    let sawKeyFrame = false;
    let lastKeyFrameRequestMs = 0;
    let firstFrameMs: number | undefined;
    let lastKeyFrameRtpTimestamp: number | undefined;
    // When a subscription starts, two key-frame requests are already on their way: Janus's to the
    // publisher, and Chromium's own PLI if the first frame it assembled was a delta frame (its receiver
    // does that whatever the transform does). So the worker adds its own only after a grace period, then at
    // most one a second while a file waits for a key frame.
    const requestKeyFrame = () => {
      const now = Date.now();
      if (kind !== 'video' || firstFrameMs === undefined || now - firstFrameMs < SUBSCRIPTION_KEY_FRAME_GRACE_MS) return;
      if (now - lastKeyFrameRequestMs < KEY_FRAME_REQUEST_INTERVAL_MS) return;
      lastKeyFrameRequestMs = now;
      transformer.sendKeyFrameRequest().catch(() => undefined);
    };
    if (kind === 'video') wantKeyFrame.set(streamNumber, (refusedRtpTimestamp) => {
      // The recorder process refused a delta frame because its file must start with a key frame. If a key
      // frame newer than that delta frame has already gone out, the file will start with it: asking again
      // would cost the sender a key frame for nothing.
      if (lastKeyFrameRtpTimestamp !== undefined && refusedRtpTimestamp !== undefined && rtpTimestampIsNewer(lastKeyFrameRtpTimestamp, refusedRtpTimestamp)) return;
      sawKeyFrame = false;
      requestKeyFrame();
    });

    const transform = async (frame: RTCEncodedVideoFrame | RTCEncodedAudioFrame, controller: { enqueue(frame: RTCEncodedVideoFrame | RTCEncodedAudioFrame): void }) => {
      if (finishing && mode === 'stream-out') {
        if (kind === 'video') {
          frame.data = TINY_VP8_KEY_FRAME.slice().buffer;
          controller.enqueue(frame);
        }
        return;
      }
      counts.frames++;
      firstFrameMs ??= Date.now();
      const sealed = new Uint8Array(frame.data);
      const opened = await decryptor.decrypt(sealed);
      if (!opened.ok) {
        counts.failures[opened.error.code] = (counts.failures[opened.error.code] ?? 0) + 1;
        if (kind === 'video') {
          frame.data = TINY_VP8_KEY_FRAME.slice().buffer;
          controller.enqueue(frame);
        }
        return;
      }
      const payload = opened.value.frame;
      const header = decodeHeader(sealed.subarray(clearPrefixLength(kind, sealed)));
      if (header.ok) counts.sealed.see(header.value.kid, header.value.ctr);
      if (mode === 'decode') {
        frame.data = payload.buffer as ArrayBuffer;
        counts.forwarded++;
        controller.enqueue(frame);
        return;
      }
      const keyFrame = kind === 'video' && payload.length > 0 && isVp8KeyFrame(payload[0]!);
      if (kind === 'video' && !sawKeyFrame) {
        if (keyFrame) sawKeyFrame = true;
        else requestKeyFrame();
      }
      const metadata = frame.getMetadata() as { rtpTimestamp?: number };
      const rtpTimestamp = metadata.rtpTimestamp ?? (frame as { timestamp: number }).timestamp;
      if (keyFrame) lastKeyFrameRtpTimestamp = rtpTimestamp;
      await drained();
      if (socket?.readyState === WebSocket.OPEN) {
        batch.add({
          kind,
          keyFrame,
          epochBits: parseKid(opened.value.kid).epochBits,
          streamNumber,
          rtpTimestamp,
          senderLeafIndex: opened.value.senderLeafIndex,
          receivedAtMs: performance.timeOrigin + performance.now(),
          payload,
        });
        counts.forwarded++;
        if (batch.length >= BATCH_FLUSH_BYTES) flushFrames();
        else batchTimer ??= setTimeout(flushFrames, BATCH_HOLD_MS);
      } else {
        counts.failures['sink-closed'] = (counts.failures['sink-closed'] ?? 0) + 1;
      }
      if (kind === 'video') {
        frame.data = TINY_VP8_KEY_FRAME.slice().buffer;
        controller.enqueue(frame);
      }
    };
    // A plain read loop rather than readable.pipeThrough(TransformStream).pipeTo(writable): the same
    // one-frame-at-a-time order with fewer promise hops per frame (about 10% of the worker's CPU here).
    // Writes back to Chromium are not awaited: its sink takes each frame at once (back to WebRTC's thread).
    const pump = async () => {
      const reader = transformer.readable.getReader();
      const writer = transformer.writable.getWriter();
      const controller = { enqueue: (out: RTCEncodedVideoFrame | RTCEncodedAudioFrame) => void writer.write(out).catch(() => undefined) };
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        await transform(value as RTCEncodedVideoFrame | RTCEncodedAudioFrame, controller);
      }
    };
    pump()
      .catch(() => undefined)
      .finally(() => {
        decryptors.delete(decryptor);
        wantKeyFrame.delete(streamNumber);
      });
  };
}

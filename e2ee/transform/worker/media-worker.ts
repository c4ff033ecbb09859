import { FrameDecryptor, FrameEncryptor } from '../frame-crypto.js';
import type { PageToWorker, StreamStats, TransformOptions, WorkerToPage } from '../worker-protocol.js';
import { SFrameKeySchedule } from '../../keys/index.js';
import { DEFAULT_CIPHER_SUITE } from '../../sframe/index.js';

/**
 * The encoded-transform worker (RTCRtpScriptTransform). Each sender and receiver of the page gets a
 * transformer here; outgoing frames are sealed with this member's current epoch key, incoming frames
 * are opened by their KID. A frame that cannot be opened is dropped and counted, never thrown: an
 * exception would tear down the media pipeline for the whole stream.
 */

declare const self: DedicatedWorkerGlobalScope;

const decryptors = new Set<FrameDecryptor>();
const keys = new SFrameKeySchedule({
  onEpochErased: ({ epochBits }) => decryptors.forEach((decryptor) => decryptor.forgetEpoch(epochBits)),
});
const stats = new Map<string, StreamStats>();
let epochLabel: string | undefined;

function post(message: WorkerToPage): void {
  self.postMessage(message);
}

function countFailure(entry: StreamStats, code: string): void {
  entry.failures[code] = (entry.failures[code] ?? 0) + 1;
}

self.onmessage = (event: MessageEvent<PageToWorker>) => {
  const message = event.data;
  switch (message.type) {
    case 'epoch':
      void keys
        .installEpoch({
          epoch: message.epoch,
          ownLeafIndex: message.ownLeafIndex,
          epochSecret: message.epochSecret,
          rosterLeafIndices: message.rosterLeafIndices,
        })
        .then(() => {
          epochLabel = message.epoch.toString();
          post({ type: 'epoch-installed', epoch: epochLabel });
        });
      break;
    case 'removed':
      keys.clear();
      epochLabel = undefined;
      break;
    case 'stats':
      post({ type: 'stats', streams: [...stats.values()].map((s) => ({ ...s, failures: { ...s.failures } })) });
      break;
  }
};

self.onrtctransform = (event: RTCTransformEvent) => {
  const transformer = event.transformer;
  const options = transformer.options as TransformOptions;
  const entry: StreamStats = { streamId: options.streamId, side: options.side, kind: options.kind, frames: 0, framesOk: 0, failures: {} };
  stats.set(options.streamId, entry);

  let decryptorOfStream: FrameDecryptor | undefined;
  let transform: (frame: RTCEncodedVideoFrame | RTCEncodedAudioFrame, controller: TransformStreamDefaultController) => Promise<void>;
  if (options.side === 'send') {
    const encryptor = new FrameEncryptor(options.kind, DEFAULT_CIPHER_SUITE, keys);
    transform = async (frame, controller) => {
      entry.frames++;
      const sealed = await encryptor.encrypt(new Uint8Array(frame.data));
      if (!sealed.ok) {
        // No key yet (before the first epoch): send nothing rather than plaintext.
        countFailure(entry, sealed.error.code);
        return;
      }
      frame.data = sealed.value.buffer as ArrayBuffer;
      entry.framesOk++;
      entry.epoch = epochLabel;
      entry.lastFrameAtMs = entry.lastOkAtMs = Date.now();
      controller.enqueue(frame);
    };
  } else {
    const decryptor = new FrameDecryptor(options.kind, DEFAULT_CIPHER_SUITE, keys);
    decryptors.add(decryptor);
    decryptorOfStream = decryptor;
    const passOnFailure = options.onDecryptFailure === 'pass';
    transform = async (frame, controller) => {
      entry.frames++;
      entry.lastFrameAtMs = Date.now();
      const opened = await decryptor.decrypt(new Uint8Array(frame.data));
      if (!opened.ok) {
        countFailure(entry, opened.error.code);
        if (passOnFailure) controller.enqueue(frame);
        return;
      }
      frame.data = opened.value.frame.buffer as ArrayBuffer;
      entry.framesOk++;
      entry.lastOkAtMs = entry.lastFrameAtMs;
      if (entry.senderLeafIndex !== opened.value.senderLeafIndex) {
        entry.senderLeafIndex = opened.value.senderLeafIndex;
        post({ type: 'stream-sender', streamId: options.streamId, senderLeafIndex: opened.value.senderLeafIndex });
      }
      controller.enqueue(frame);
    };
  }
  transformer.readable
    .pipeThrough(new TransformStream({ transform }))
    .pipeTo(transformer.writable)
    .catch(() => {
      // The stream ends when its sender or receiver is closed; nothing to report.
    })
    .finally(() => {
      if (decryptorOfStream) decryptors.delete(decryptorOfStream);
    });
};

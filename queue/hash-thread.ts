import { Worker } from 'node:worker_threads';

/**
 * SHA-256 on a second thread. Encrypting a track on the main thread while also hashing its plaintext and
 * its ciphertext there makes three passes over every byte on one core; this moves the two hash passes to
 * one helper thread (per process), so encryption and hashing overlap on two cores. Chunks are copied to
 * the thread (cheap next to hashing); at most `maxInFlightBytes` per stream wait there before the
 * producer is held back, so memory does not grow with the file.
 */

const SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hashes = new Map();
parentPort.on('message', (m) => {
  if (m.op === 'update') {
    let h = hashes.get(m.id);
    if (!h) { h = createHash('sha256'); hashes.set(m.id, h); }
    h.update(m.data);
    parentPort.postMessage({ op: 'ack', id: m.id, bytes: m.data.byteLength });
  } else if (m.op === 'digest') {
    const h = hashes.get(m.id) || createHash('sha256');
    hashes.delete(m.id);
    parentPort.postMessage({ op: 'digest', id: m.id, hex: h.digest('hex') });
  } else if (m.op === 'drop') {
    hashes.delete(m.id);
  }
});
`;

type Message = { op: 'ack'; id: number; bytes: number } | { op: 'digest'; id: number; hex: string };

interface StreamState {
  inFlight: number;
  failed: Error | undefined;
  onAck: (() => void) | undefined;
  onDigest: ((result: { hex: string } | { error: Error }) => void) | undefined;
}

export class OffThreadSha256 {
  private readonly state: StreamState = { inFlight: 0, failed: undefined, onAck: undefined, onDigest: undefined };

  constructor(
    private readonly thread: HashThread,
    readonly id: number,
    private readonly maxInFlightBytes: number,
  ) {}

  /** Queues a chunk; resolves at once, or when the thread has caught up below the in-flight limit. */
  update(chunk: Uint8Array): Promise<void> | undefined {
    if (this.state.failed) return undefined;
    this.state.inFlight += chunk.byteLength;
    this.thread.post({ op: 'update', id: this.id, data: chunk });
    if (this.state.inFlight <= this.maxInFlightBytes) return undefined;
    return new Promise((resolve) => {
      this.state.onAck = () => {
        if (this.state.inFlight <= this.maxInFlightBytes) {
          this.state.onAck = undefined;
          resolve();
        }
      };
    });
  }

  digest(): Promise<string> {
    if (this.state.failed) return Promise.reject(this.state.failed);
    return new Promise((resolve, reject) => {
      this.state.onDigest = (result) => ('hex' in result ? resolve(result.hex) : reject(result.error));
      this.thread.post({ op: 'digest', id: this.id });
    });
  }

  drop(): void {
    this.thread.release(this.id);
  }

  /** @internal */
  handle(message: Message): void {
    if (message.op === 'ack') {
      this.state.inFlight -= message.bytes;
      this.state.onAck?.();
    } else {
      this.thread.forget(this.id);
      this.state.onDigest?.({ hex: message.hex });
    }
  }

  /** @internal The thread died: nothing may hang on it. */
  fail(error: Error): void {
    this.state.failed = error;
    this.state.inFlight = 0;
    this.state.onAck?.();
    this.state.onDigest?.({ error });
  }
}

export class HashThread {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly streams = new Map<number, OffThreadSha256>();

  private ensure(): Worker {
    if (!this.worker) {
      const worker = new Worker(SOURCE, { eval: true });
      worker.on('message', (message: Message) => this.streams.get(message.id)?.handle(message));
      worker.on('error', (error) => {
        // A broken helper thread must not hang streams: each fails, and the next use starts a new thread.
        this.worker = undefined;
        for (const stream of this.streams.values()) stream.fail(error);
        this.streams.clear();
      });
      worker.unref();
      this.worker = worker;
    }
    return this.worker;
  }

  create(maxInFlightBytes = 16 * 1024 * 1024): OffThreadSha256 {
    const stream = new OffThreadSha256(this, this.nextId++, maxInFlightBytes);
    this.streams.set(stream.id, stream);
    return stream;
  }

  /** @internal */
  post(message: { op: 'update'; id: number; data: Uint8Array } | { op: 'digest'; id: number }): void {
    this.ensure().postMessage(message);
  }

  /** @internal */
  forget(id: number): void {
    this.streams.delete(id);
  }

  /** @internal */
  release(id: number): void {
    if (!this.streams.delete(id)) return;
    this.worker?.postMessage({ op: 'drop', id });
  }
}

/** The process's helper thread (started on first use, never keeps the process alive). */
export const hashThread = new HashThread();

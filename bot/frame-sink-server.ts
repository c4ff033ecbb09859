import { createServer, type Server } from 'node:http';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import { decodeFrameBatch, type FrameMessage } from './wire/frame-message.js';
import { parsePageControlMessage, type PageControlMessage } from './wire/control-message.js';

/**
 * Where recorder pages send decrypted frames: a WebSocket server on loopback. A page proves which call it
 * belongs to with a per-call secret in its first message (never in the URL, never logged). A binary
 * message is a batch of frame records (wire/frame-message.ts), handed to the handler one frame at a time.
 * Messages of a connection are handled strictly in order; when the handler falls behind (ffmpeg busy), the
 * socket is paused, which backs up into the page's worker and from there into Chromium's receive queue.
 */

export interface FrameSinkHandler {
  onFrame(frame: FrameMessage): Promise<void>;
  onControl(message: PageControlMessage): Promise<void>;
  /** The page's socket closed (page closed or crashed). */
  onClose(): void;
  /** A malformed message (counted; the connection stays up). */
  onBadMessage(code: string): void;
}

export interface FrameSinkConnection {
  /** Sends a JSON request to the page's worker (e.g. request a key frame). */
  send(message: Record<string, unknown>): void;
}

/** Bytes of received, unhandled messages at which the socket is paused (resumed at half). */
const PAUSE_AT_QUEUED_BYTES = 4 * 1024 * 1024;
const HELLO_TIMEOUT_MS = 10_000;

export class FrameSinkServer {
  private readonly sessions = new Map<string, (connection: FrameSinkConnection) => FrameSinkHandler>();
  private constructor(
    private readonly server: Server,
    private readonly wss: WebSocketServer,
    readonly url: string,
  ) {
    wss.on('connection', (socket) => this.accept(socket));
  }

  static async start(host = '127.0.0.1', port = 0): Promise<FrameSinkServer> {
    const server = createServer((_request, response) => response.writeHead(404).end());
    const wss = new WebSocketServer({ server, path: '/frames', maxPayload: 8 * 1024 * 1024 });
    await new Promise<void>((resolve) => server.listen(port, host, resolve));
    const address = server.address();
    const actualPort = typeof address === 'object' && address ? address.port : port;
    return new FrameSinkServer(server, wss, `ws://${host}:${actualPort}/frames`);
  }

  /** Registers a page session; the page must present `callSecret` in its hello. */
  register(callSecret: string, accept: (connection: FrameSinkConnection) => FrameSinkHandler): () => void {
    this.sessions.set(callSecret, accept);
    return () => this.sessions.delete(callSecret);
  }

  private accept(socket: WebSocket): void {
    let handler: FrameSinkHandler | undefined;
    const queue: Array<{ data: RawData; isBinary: boolean; bytes: number }> = [];
    let queuedBytes = 0;
    let busy = false;
    let paused = false;
    const helloTimer = setTimeout(() => socket.close(4401, 'no hello'), HELLO_TIMEOUT_MS);

    const process = async () => {
      if (busy) return;
      busy = true;
      try {
        while (queue.length > 0) {
          const item = queue.shift()!;
          queuedBytes -= item.bytes;
          if (paused && queuedBytes < PAUSE_AT_QUEUED_BYTES / 2) {
            paused = false;
            socket.resume();
          }
          try {
            await this.handle(item.data, item.isBinary, handler!);
          } catch {
            handler!.onBadMessage('handler-error');
          }
        }
      } finally {
        busy = false;
      }
    };

    socket.on('message', (data, isBinary) => {
      if (!handler) {
        const hello = isBinary ? undefined : parsePageControlMessage(String(data));
        const accept = hello?.type === 'hello' ? this.sessions.get(hello.callSecret) : undefined;
        if (!accept) {
          socket.close(4401, 'unknown call');
          return;
        }
        clearTimeout(helloTimer);
        handler = accept({ send: (message) => socket.readyState === socket.OPEN && socket.send(JSON.stringify(message)) });
        return;
      }
      const bytes = Buffer.isBuffer(data) ? data.length : Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : data.byteLength;
      queue.push({ data, isBinary, bytes });
      queuedBytes += bytes;
      if (!paused && queuedBytes >= PAUSE_AT_QUEUED_BYTES) {
        paused = true;
        socket.pause();
      }
      void process();
    });
    socket.on('close', () => {
      clearTimeout(helloTimer);
      // Let queued frames reach the files before the handler hears of the close.
      const finish = async () => {
        while (busy || queue.length > 0) {
          await process();
          if (busy) await new Promise((resolve) => setTimeout(resolve, 5));
        }
        handler?.onClose();
      };
      void finish();
    });
  }

  private async handle(data: RawData, isBinary: boolean, handler: FrameSinkHandler): Promise<void> {
    if (!isBinary) {
      const message = parsePageControlMessage(String(data));
      if (!message) return handler.onBadMessage('bad-control-message');
      return handler.onControl(message);
    }
    const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    const batch = decodeFrameBatch(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    for (const frame of batch.frames) await handler.onFrame(frame);
    if (batch.error) handler.onBadMessage(batch.error.code);
  }

  async close(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

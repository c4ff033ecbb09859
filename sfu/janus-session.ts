/**
 * A Janus session over the WebSocket transport (`janus-protocol` subprotocol), isomorphic: it uses the
 * platform's WebSocket (browser page, or Node >= 22's global). One session multiplexes plugin handles;
 * requests are matched to replies by transaction; asynchronous plugin events are routed to their handle.
 * Janus drops a session after 60 s of silence, so a keepalive runs while the session is open.
 */

export interface JanusJsep {
  type: 'offer' | 'answer';
  sdp: string;
  /** Janus 1.1 reads the end-to-end-encryption declaration from the JSEP object (harness.md). */
  e2ee?: boolean;
}

export interface JanusPluginEvent {
  data: Record<string, unknown>;
  jsep?: JanusJsep;
}

export class JanusError extends Error {
  constructor(
    readonly code: number | 'closed' | 'timeout' | 'protocol',
    message: string,
  ) {
    super(message);
    this.name = 'JanusError';
  }
}

interface Pending {
  resolve: (message: Record<string, unknown>) => void;
  reject: (error: JanusError) => void;
  /** Plugin messages get an "ack" first and the real answer as an event with the same transaction. */
  waitForEvent: boolean;
  timer: ReturnType<typeof setTimeout>;
}

const KEEPALIVE_INTERVAL_MS = 25_000;
const REQUEST_TIMEOUT_MS = 15_000;

export class JanusSession {
  private sessionId: number | undefined;
  private readonly pending = new Map<string, Pending>();
  private readonly handles = new Map<number, JanusHandle>();
  private keepalive: ReturnType<typeof setInterval> | undefined;
  private nextTransaction = 1;
  private closed = false;

  private constructor(private readonly socket: WebSocket) {}

  static async connect(url: string): Promise<JanusSession> {
    const socket = new WebSocket(url, 'janus-protocol');
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener('open', () => resolve(), { once: true });
      socket.addEventListener('error', () => reject(new JanusError('closed', 'could not connect to the SFU')), { once: true });
    });
    const session = new JanusSession(socket);
    socket.addEventListener('message', (event) => session.onMessage(String(event.data)));
    socket.addEventListener('close', () => session.onClose());
    const created = await session.request({ janus: 'create' });
    session.sessionId = Number((created.data as { id: number }).id);
    session.keepalive = setInterval(() => {
      void session.request({ janus: 'keepalive' }).catch(() => undefined);
    }, KEEPALIVE_INTERVAL_MS);
    return session;
  }

  async attach(plugin: string): Promise<JanusHandle> {
    const reply = await this.request({ janus: 'attach', plugin });
    const handle = new JanusHandle(this, Number((reply.data as { id: number }).id));
    this.handles.set(handle.id, handle);
    return handle;
  }

  /** Internal: used by handles. */
  request(body: Record<string, unknown>, options: { handleId?: number; waitForEvent?: boolean } = {}): Promise<Record<string, unknown>> {
    if (this.closed) return Promise.reject(new JanusError('closed', 'SFU session is closed'));
    const transaction = `t${this.nextTransaction++}`;
    const message: Record<string, unknown> = { ...body, transaction };
    if (this.sessionId !== undefined) message.session_id = this.sessionId;
    if (options.handleId !== undefined) message.handle_id = options.handleId;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(transaction);
        reject(new JanusError('timeout', `SFU did not answer ${String(body.janus)} in ${REQUEST_TIMEOUT_MS} ms`));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(transaction, { resolve, reject, waitForEvent: options.waitForEvent ?? false, timer });
      this.socket.send(JSON.stringify(message));
    });
  }

  /** Internal: fire-and-forget messages (trickle). */
  send(body: Record<string, unknown>, handleId: number): void {
    if (this.closed) return;
    this.socket.send(
      JSON.stringify({ ...body, transaction: `t${this.nextTransaction++}`, session_id: this.sessionId, handle_id: handleId }),
    );
  }

  forget(handle: JanusHandle): void {
    this.handles.delete(handle.id);
  }

  private onMessage(text: string): void {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    const transaction = typeof message.transaction === 'string' ? message.transaction : undefined;
    const pending = transaction ? this.pending.get(transaction) : undefined;
    const kind = message.janus;
    if (pending && transaction) {
      if (kind === 'ack' && pending.waitForEvent) return;
      if (kind === 'ack' && !pending.waitForEvent) {
        // keepalive and trickle are answered with a bare ack
      }
      this.pending.delete(transaction);
      clearTimeout(pending.timer);
      const error = (message.error as { code: number; reason: string } | undefined) ?? pluginError(message);
      if (kind === 'error' || error) {
        pending.reject(new JanusError(error?.code ?? 'protocol', error?.reason ?? 'SFU error'));
      } else {
        pending.resolve(message);
      }
      return;
    }
    const sender = Number(message.sender);
    const handle = this.handles.get(sender);
    if (!handle) return;
    if (kind === 'event') {
      const plugindata = message.plugindata as { data: Record<string, unknown> } | undefined;
      handle.emitEvent({ data: plugindata?.data ?? {}, jsep: message.jsep as JanusJsep | undefined });
    } else if (kind === 'webrtcup' || kind === 'hangup' || kind === 'media' || kind === 'slowlink') {
      handle.emitEvent({ data: { janus: kind, ...message } });
    }
  }

  private onClose(): void {
    this.closed = true;
    clearInterval(this.keepalive);
    for (const [transaction, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(new JanusError('closed', 'SFU connection closed'));
      this.pending.delete(transaction);
    }
    for (const handle of this.handles.values()) handle.emitEvent({ data: { janus: 'closed' } });
  }

  async destroy(): Promise<void> {
    if (this.closed) return;
    await this.request({ janus: 'destroy' }).catch(() => undefined);
    this.closed = true;
    clearInterval(this.keepalive);
    this.socket.close();
  }
}

function pluginError(message: Record<string, unknown>): { code: number; reason: string } | undefined {
  const data = (message.plugindata as { data?: Record<string, unknown> } | undefined)?.data;
  if (data && typeof data.error_code === 'number') return { code: data.error_code, reason: String(data.error) };
  return undefined;
}

export class JanusHandle {
  private readonly listeners = new Set<(event: JanusPluginEvent) => void>();

  constructor(
    private readonly session: JanusSession,
    readonly id: number,
  ) {}

  /** A synchronous plugin request (create, exists, list...): the answer comes in the reply itself. */
  async requestSync(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const reply = await this.session.request({ janus: 'message', body }, { handleId: this.id });
    return ((reply.plugindata as { data: Record<string, unknown> } | undefined)?.data ?? {}) as Record<string, unknown>;
  }

  /** An asynchronous plugin request (join, publish, start...): ack first, then an event with the same transaction. */
  async requestAsync(body: Record<string, unknown>, jsep?: JanusJsep): Promise<JanusPluginEvent> {
    const message: Record<string, unknown> = { janus: 'message', body };
    if (jsep) message.jsep = jsep;
    const reply = await this.session.request(message, { handleId: this.id, waitForEvent: true });
    const plugindata = reply.plugindata as { data: Record<string, unknown> } | undefined;
    return { data: plugindata?.data ?? {}, jsep: reply.jsep as JanusJsep | undefined };
  }

  trickle(candidate: RTCIceCandidateInit | null): void {
    this.session.send({ janus: 'trickle', candidate: candidate ?? { completed: true } }, this.id);
  }

  onEvent(listener: (event: JanusPluginEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emitEvent(event: JanusPluginEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  async detach(): Promise<void> {
    this.session.forget(this);
    await this.session.request({ janus: 'detach' }, { handleId: this.id }).catch(() => undefined);
  }
}

import WebSocket from 'ws';
import {
  decodeServerMessage,
  encodeClientMessage,
  type ClientMessage,
  type DeliveryTransport,
  type ServerMessage,
} from '../e2ee/mls/index.js';

/**
 * A CallMember transport over a Node WebSocket (tests, and Node-side members). Messages that fail to
 * decode are dropped and counted: a well-behaved service never sends them.
 */
export interface WsDeliveryTransport extends DeliveryTransport {
  close(): void;
  readonly undecodable: number;
  readonly socket: WebSocket;
}

export async function connectDeliveryTransport(wsUrl: string): Promise<WsDeliveryTransport> {
  const socket = new WebSocket(wsUrl);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const messageListeners: Array<(message: ServerMessage) => void> = [];
  const closeListeners: Array<() => void> = [];
  let undecodable = 0;
  socket.on('message', (data, isBinary) => {
    if (isBinary) {
      undecodable++;
      return;
    }
    const decoded = decodeServerMessage(data.toString());
    if (!decoded.ok) {
      undecodable++;
      return;
    }
    for (const listener of messageListeners) listener(decoded.value);
  });
  socket.on('close', () => {
    for (const listener of closeListeners) listener();
  });
  socket.on('error', () => {
    // 'close' follows; nothing else to do.
  });
  return {
    socket,
    get undecodable() {
      return undecodable;
    },
    send(message: ClientMessage) {
      if (socket.readyState === WebSocket.OPEN) socket.send(encodeClientMessage(message));
    },
    onMessage(listener) {
      messageListeners.push(listener);
    },
    onClose(listener) {
      closeListeners.push(listener);
    },
    close() {
      socket.close();
    },
  };
}

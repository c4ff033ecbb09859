import type { ClientMessage, DeliveryTransport, ServerMessage } from '../e2ee/mls/index.js';
import { decodeServerMessage, encodeClientMessage } from '../e2ee/mls/index.js';

/** The MLS delivery service connection, as the CallMember's transport, over the page's WebSocket. */
export async function openDeliverySocket(url: string): Promise<DeliveryTransport & { close(): void }> {
  const socket = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener('open', () => resolve(), { once: true });
    socket.addEventListener('error', () => reject(new Error('could not reach the key service')), { once: true });
  });
  const messageListeners: Array<(message: ServerMessage) => void> = [];
  const closeListeners: Array<() => void> = [];
  socket.addEventListener('message', (event) => {
    const decoded = decodeServerMessage(String(event.data));
    if (!decoded.ok) return;
    for (const listener of messageListeners) listener(decoded.value);
  });
  socket.addEventListener('close', () => closeListeners.forEach((listener) => listener()));
  return {
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

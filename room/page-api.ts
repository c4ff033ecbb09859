import type { CallConfig, CallStats } from './call-session.js';

/**
 * What the room page exposes on `window.chaperoneRoom`: how a platform embeds it (join with a token it
 * issued) and how tests and the demo drive it through puppeteer.
 */
export interface RoomPageApi {
  join(config: CallConfig): Promise<void>;
  stats(): Promise<CallStats | undefined>;
  /** Drops this member's key-service connection: the service proposes its removal from the group. */
  leaveGroup(): void;
  leave(): Promise<void>;
}

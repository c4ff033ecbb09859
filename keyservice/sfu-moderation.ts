import { JanusSession } from '../sfu/janus-session.js';

/**
 * The SFU side of removing a recorder (ARCHITECTURE.md flow 7). Removal is cryptographic — the key
 * service proposes Remove(recorder) and a member commits it — but if no member commits within the
 * removal timeout, the key service also has the SFU stop forwarding to the recorder. Recorders join the
 * SFU with their recorder id as display label (recorder-jobs.ts), which is how they are found.
 */
export interface SfuModeration {
  /** Drops the recorder's SFU participant(s) from the room's SFU room. Resolves with how many it dropped. */
  dropRecorder(target: { roomId: string; recorderId: string }): Promise<{ dropped: number }>;
}

export interface JanusSfuModerationOptions {
  /** The Janus WebSocket endpoint (janus-protocol). */
  url: string;
  /** The VideoRoom number of a key-service room (undefined: not on this SFU). */
  roomFor: (roomId: string) => number | undefined;
  /** The VideoRoom's secret, when its rooms have one (required by Janus for `kick`). */
  secret?: string;
}

/**
 * Janus VideoRoom `kick` (janus_videoroom.c). Janus tears down the kicked participant's publisher
 * PeerConnection at once; its subscriber handles stop receiving media only in rooms created with
 * `require_pvtid` whose subscribers joined with their publisher's `private_id` — create recording rooms
 * that way and have the recorder subscribe with its private_id.
 */
export class JanusSfuModeration implements SfuModeration {
  constructor(private readonly options: JanusSfuModerationOptions) {
    if (typeof options?.url !== 'string' || !/^wss?:\/\//.test(options.url)) throw new TypeError('options.url must be a ws:// or wss:// URL');
    if (typeof options.roomFor !== 'function') throw new TypeError('options.roomFor must map a room id to a VideoRoom number');
  }

  async dropRecorder(target: { roomId: string; recorderId: string }): Promise<{ dropped: number }> {
    const room = this.options.roomFor(target.roomId);
    if (room === undefined) return { dropped: 0 };
    const session = await JanusSession.connect(this.options.url);
    try {
      const handle = await session.attach('janus.plugin.videoroom');
      const listed = await handle.requestSync({ request: 'listparticipants', room });
      const participants = Array.isArray(listed.participants) ? (listed.participants as Array<{ id: number | string; display?: string }>) : [];
      let dropped = 0;
      for (const participant of participants) {
        if (participant.display !== target.recorderId) continue;
        const reply = await handle.requestSync({ request: 'kick', room, id: participant.id, ...(this.options.secret === undefined ? {} : { secret: this.options.secret }) });
        if (reply.videoroom === 'success') dropped++;
      }
      await handle.detach();
      return { dropped };
    } finally {
      await session.destroy();
    }
  }
}

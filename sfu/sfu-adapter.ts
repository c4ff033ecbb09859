/**
 * What a call client needs from an SFU, independent of which SFU it is. The room client and the recorder
 * speak only this; `JanusVideoRoomAdapter` is the first implementation. Media crossing the SFU is always
 * SFrame ciphertext: the adapter's job is signalling and transport, never keys.
 */

export type MediaKind = 'audio' | 'video';

export interface RemoteTrack {
  /** The SFU's id for the publisher. Attribution to a person comes from the SFrame KID, not from this. */
  feedId: string;
  /** The publisher's self-declared SFU display label (untrusted; shown only as a hint). */
  label: string;
  kind: MediaKind;
  track: MediaStreamTrack;
  receiver: RTCRtpReceiver;
}

export interface SfuEvents {
  /** A remote track arrived; attach the decrypting transform to `receiver` synchronously. */
  track(track: RemoteTrack): void;
  /** A publisher stopped publishing or left. */
  feedGone(feedId: string): void;
  /** The connection to the SFU was lost. */
  disconnected(): void;
}

export interface SfuRoomConnection {
  /**
   * Publishes local tracks. `prepareSender` runs for each sender before negotiation, so the encrypting
   * transform is in place before the first frame leaves.
   */
  publish(tracks: MediaStreamTrack[], prepareSender: (sender: RTCRtpSender, kind: MediaKind) => void): Promise<void>;
  /** Subscribes to every current and future publisher (except ourselves). */
  subscribeAll(): void;
  /** Our own publisher id at the SFU. */
  readonly ownFeedId: string;
  peerConnections(): RTCPeerConnection[];
  leave(): Promise<void>;
}

export interface SfuJoinOptions {
  url: string;
  room: number;
  label: string;
  events: SfuEvents;
}

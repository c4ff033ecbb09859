import type { RosterEntry } from '../e2ee/mls/index.js';
import type { RemoteStream } from './call-session.js';

/**
 * Video tiles. A tile is named after the MLS member whose key opened its frames (the SFrame KID's sender
 * index), never after the SFU's label: the SFU is not trusted to say who is speaking.
 */
export class TilesView {
  private readonly tiles = new Map<string, { figure: HTMLElement; caption: HTMLElement; leaf?: number }>();
  private roster: RosterEntry[] = [];

  constructor(private readonly container: HTMLElement) {}

  /** The self-view: muted, mirrored like a mirror, labelled as you. */
  addSelf(media: MediaStream, name: string): void {
    const figure = document.createElement('figure');
    figure.className = 'tile tile-self';
    const video = document.createElement('video');
    video.autoplay = true;
    video.muted = true;
    video.playsInline = true;
    video.srcObject = new MediaStream(media.getVideoTracks());
    const caption = document.createElement('figcaption');
    caption.textContent = `${name} (you)`;
    figure.append(video, caption);
    this.container.prepend(figure);
  }

  add(stream: RemoteStream): void {
    if (stream.kind === 'audio') {
      const audio = document.createElement('audio');
      audio.autoplay = true;
      audio.srcObject = new MediaStream([stream.track]);
      audio.dataset.streamId = stream.streamId;
      audio.hidden = true;
      this.container.append(audio);
      return;
    }
    const figure = document.createElement('figure');
    figure.className = 'tile';
    figure.dataset.streamId = stream.streamId;
    const video = document.createElement('video');
    video.autoplay = true;
    video.muted = true;
    video.playsInline = true;
    video.srcObject = new MediaStream([stream.track]);
    const caption = document.createElement('figcaption');
    caption.textContent = 'Waiting for encrypted video…';
    figure.append(video, caption);
    this.container.append(figure);
    this.tiles.set(stream.streamId, { figure, caption });
  }

  remove(streamId: string): void {
    this.tiles.get(streamId)?.figure.remove();
    this.tiles.delete(streamId);
    this.container.querySelector(`audio[data-stream-id="${CSS.escape(streamId)}"]`)?.remove();
  }

  setSender(streamId: string, leafIndex: number): void {
    const tile = this.tiles.get(streamId);
    if (!tile) return;
    tile.leaf = leafIndex;
    this.relabel();
  }

  setRoster(roster: RosterEntry[]): void {
    this.roster = roster;
    this.relabel();
  }

  private relabel(): void {
    for (const tile of this.tiles.values()) {
      if (tile.leaf === undefined) continue;
      const member = this.roster.find((entry) => entry.leafIndex === tile.leaf);
      tile.caption.textContent = member ? `${member.name} · encrypted` : 'Left the call';
      tile.figure.dataset.senderLeaf = String(tile.leaf);
    }
  }
}

import type { RosterEntry } from '../e2ee/mls/index.js';

/**
 * Renders the MLS roster — every member holding the call's keys — and the recording indicator. The
 * indicator is derived from the roster alone (invariant I2): it is on exactly when a member with a
 * recorder credential is in the group, so it cannot be on without a recorder or off with one.
 */

export function recorderPresent(roster: RosterEntry[]): boolean {
  return roster.some((entry) => entry.kind === 'recorder');
}

const KIND_LABEL: Record<RosterEntry['kind'], string> = { participant: 'Participant', recorder: 'Recorder' };

export function renderRoster(list: HTMLElement, indicator: HTMLElement, roster: RosterEntry[], ownLeafIndex: number | undefined): void {
  list.replaceChildren(
    ...roster.map((entry) => {
      const item = document.createElement('li');
      item.dataset.leafIndex = String(entry.leafIndex);
      item.dataset.kind = entry.kind;
      const name = document.createElement('span');
      name.className = 'name';
      name.textContent = entry.leafIndex === ownLeafIndex ? `${entry.name} (you)` : entry.name;
      const kind = document.createElement('span');
      kind.className = `kind kind-${entry.kind}`;
      kind.textContent = KIND_LABEL[entry.kind] ?? entry.kind;
      item.append(name, kind);
      return item;
    }),
  );
  const recording = recorderPresent(roster);
  indicator.textContent = recording ? 'Recording — a recorder is a member of this call' : 'Not recording';
  indicator.className = `badge ${recording ? 'badge-recording' : 'badge-not-recording'}`;
  indicator.dataset.recording = String(recording);
}

import { CallSession, type CallConfig } from './call-session.js';
import type { RoomPageApi } from './page-api.js';
import type { ConsentPageApi } from './consent-page-api.js';
import { prepareRecorderKeys } from './consent-recorder-keys.js';
import { ConsentView, showRecorderPurposes } from './consent-view.js';
import { renderRoster } from './roster-view.js';
import { TilesView } from './tiles-view.js';

/**
 * Entry of the reference call page. A platform embeds it and calls `chaperoneRoom.join(config)` with a
 * token it issued (tokens never travel in URLs); the join form is for trying it by hand.
 */

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`room page is missing #${id}`);
  return found as T;
}

const rosterList = element<HTMLUListElement>('roster');
const indicator = element<HTMLElement>('recording-indicator');
const e2eeStatus = element<HTMLElement>('e2ee-status');
const message = element<HTMLElement>('call-message');
const tiles = new TilesView(element<HTMLElement>('tiles'));
let session: CallSession | undefined;
let ownLeafIndex: number | undefined;
let firstDecryptedAtMs: number | undefined;

async function decide(choice: 'grant' | 'decline' | 'revoke'): Promise<void> {
  if (!session) throw new Error('not in a call');
  // Declining is a signed revocation before any grant: the ledger keeps the "no" too.
  await session.consent(choice === 'grant' ? 'grant' : 'revoke');
}

const consent = new ConsentView(
  {
    panel: element('consent'),
    purpose: element('consent-purpose'),
    statement: element('consent-statement'),
    details: element('consent-details'),
    state: element('consent-state'),
    grant: element<HTMLButtonElement>('consent-grant'),
    decline: element<HTMLButtonElement>('consent-decline'),
    revoke: element<HTMLButtonElement>('consent-revoke'),
  },
  { decide },
);

async function join(config: CallConfig): Promise<void> {
  if (session) throw new Error('already in a call');
  session = new CallSession(config, {
    roster(roster) {
      ownLeafIndex = session?.roster().find((entry) => entry.id === config.participantId)?.leafIndex ?? ownLeafIndex;
      renderRoster(rosterList, indicator, roster, ownLeafIndex);
      showRecorderPurposes(rosterList, roster);
      tiles.setRoster(roster);
    },
    policy: (policy) => consent.showPolicy(policy),
    consentStatus: (status) => consent.showStatus(status),
    localMedia: (media) => tiles.addSelf(media, config.displayName),
    remoteStream: (stream) => tiles.add(stream),
    remoteStreamGone: (streamId) => tiles.remove(streamId),
    streamSender: (streamId, leaf) => {
      firstDecryptedAtMs ??= Date.now(); // the worker names a stream's sender after its first authenticated frame
      tiles.setSender(streamId, leaf);
    },
    status(text) {
      e2eeStatus.textContent = text === 'End-to-end encrypted' ? 'End-to-end encrypted: only the people listed can see and hear this call' : text;
    },
    removed() {
      message.textContent = 'You are no longer a member of this call: its media can no longer be decrypted here.';
    },
  });
  try {
    await session.join();
  } catch (error) {
    message.textContent = `Could not join: ${(error as Error).message}`;
    throw error;
  }
}

declare global {
  interface Window {
    chaperoneRoom: RoomPageApi;
  }
}

window.chaperoneRoom = {
  join,
  stats: async () => session?.stats(),
  leaveGroup: () => session?.leaveGroup(),
  leave: async () => session?.leave(),
};

window.chaperoneConsent = {
  async decide(choice) {
    await decide(choice);
    consent.setDecision(choice === 'grant' ? 'grant' : choice === 'decline' ? 'declined' : 'revoke');
  },
  state: () => consent.current,
  prepareRecorderKeys,
  frameTimes: () => ({ firstDecryptedAtMs }),
} satisfies ConsentPageApi;

const form = element<HTMLFormElement>('join-form');
const params = new URLSearchParams(location.hash.slice(1));
if (params.get('form') === '1') {
  form.hidden = false;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const token = String(data.get('token'));
    const payload = JSON.parse(atob(token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/'))) as { sub: string; room: string };
    void join({
      keyServiceUrl: String(params.get('keyService')),
      sfuUrl: String(params.get('sfu')),
      sfuRoom: Number(params.get('sfuRoom')),
      token,
      participantId: payload.sub,
      displayName: String(data.get('name')),
    }).then(() => (form.hidden = true));
  });
}

import type { ConsentDecision, ConsentStatus, RecordingPolicyNotice, RosterEntry } from '../e2ee/mls/index.js';

/**
 * The consent prompt (ARCHITECTURE.md flow 3): what the recording is for, the statement the person is
 * asked to agree to, how long it is kept, and buttons to agree, decline, or withdraw at any time. It
 * never says whether the call is being recorded — the recording indicator does that, from the MLS
 * roster alone (roster-view.ts, invariant I2) — only what this person decided and how many agreed.
 */

export interface ConsentElements {
  panel: HTMLElement;
  purpose: HTMLElement;
  statement: HTMLElement;
  details: HTMLElement;
  state: HTMLElement;
  grant: HTMLButtonElement;
  decline: HTMLButtonElement;
  revoke: HTMLButtonElement;
}

export type OwnDecision = ConsentDecision | 'declined' | undefined;

export class ConsentView {
  private policy: RecordingPolicyNotice | undefined;
  private status: ConsentStatus | undefined;
  private decision: OwnDecision;
  private busy = false;
  private error: string | undefined;

  constructor(
    private readonly elements: ConsentElements,
    actions: { decide(decision: 'grant' | 'decline' | 'revoke'): Promise<void> },
  ) {
    const act = (choice: 'grant' | 'decline' | 'revoke') => async () => {
      if (this.busy) return;
      this.busy = true;
      this.error = undefined;
      this.render();
      try {
        await actions.decide(choice);
        this.decision = choice === 'grant' ? 'grant' : choice === 'decline' ? 'declined' : 'revoke';
      } catch (error) {
        this.error = `Your answer was not recorded (${(error as { consentRefusal?: string }).consentRefusal ?? 'error'}). Please try again.`;
      } finally {
        this.busy = false;
        this.render();
      }
    };
    elements.grant.addEventListener('click', act('grant'));
    elements.decline.addEventListener('click', act('decline'));
    elements.revoke.addEventListener('click', act('revoke'));
  }

  get current(): { policy: RecordingPolicyNotice | undefined; status: ConsentStatus | undefined; decision: OwnDecision } {
    return { policy: this.policy, status: this.status, decision: this.decision };
  }

  showPolicy(policy: RecordingPolicyNotice): void {
    // A new version asks again: an earlier answer was for an earlier policy.
    if (this.policy !== undefined && this.policy.version !== policy.version) this.decision = undefined;
    this.policy = policy;
    this.render();
  }

  showStatus(status: ConsentStatus): void {
    this.status = status;
    this.render();
  }

  /** Records the person's own decision made elsewhere (e.g. through the page API). */
  setDecision(decision: OwnDecision): void {
    this.decision = decision;
    this.render();
  }

  private render(): void {
    const { panel, purpose, statement, details, state, grant, decline, revoke } = this.elements;
    const policy = this.policy;
    if (policy === undefined) {
      panel.hidden = true;
      return;
    }
    panel.hidden = false;
    panel.dataset.policyVersion = String(policy.version);
    panel.dataset.decision = this.decision ?? 'none';
    purpose.textContent = policy.enabled ? `This call may be recorded for: ${policy.purposeLabel}` : 'Recording is switched off for this call.';
    statement.textContent = policy.statement;
    const mode = policy.consentMode === 'all-party' ? 'Recording starts only if everyone in the call agrees.' : 'Your clinic records this call with one participant’s agreement; you are told so here.';
    const part2 = policy.part2 ? ' This is substance-use care: federal rules (42 CFR Part 2) apply, and access to the recording is restricted.' : '';
    details.textContent = `${mode} If recorded, it is kept for ${policy.retentionDays} days.${part2} You can withdraw at any time; recording then stops at once.`;

    const counts = this.status !== undefined && this.status.policyVersion === policy.version ? ` ${this.status.granted} of ${this.status.required} people have agreed.` : '';
    let text: string;
    if (this.busy) text = 'Sending your answer…';
    else if (this.error !== undefined) text = this.error;
    else if (!policy.enabled) text = 'Nothing is being recorded.';
    else if (this.decision === 'grant') text = `You agreed.${counts}`;
    else if (this.decision === 'declined') text = 'You declined. The call is not recorded while you are in it.';
    else if (this.decision === 'revoke') text = 'You withdrew your consent. Recording stopped.';
    else text = `Do you agree to this call being recorded?${counts}`;
    state.textContent = text;

    const canAnswer = policy.enabled && !this.busy;
    grant.hidden = this.decision === 'grant';
    decline.hidden = this.decision !== undefined;
    revoke.hidden = this.decision !== 'grant';
    grant.disabled = decline.disabled = revoke.disabled = !canAnswer;
  }
}

/** Adds each recorder's purpose to its roster entry (the roster lists the recorder with its purpose). */
export function showRecorderPurposes(list: HTMLElement, roster: RosterEntry[]): void {
  for (const entry of roster) {
    if (entry.kind !== 'recorder' || entry.purpose === undefined) continue;
    const item = list.querySelector<HTMLElement>(`li[data-leaf-index="${entry.leafIndex}"]`);
    const name = item?.querySelector<HTMLElement>('.name');
    if (name === null || name === undefined) continue;
    const purpose = document.createElement('span');
    purpose.className = 'purpose';
    purpose.textContent = `for ${entry.purpose}`;
    name.append(document.createElement('br'), purpose);
    item!.dataset.purpose = entry.purpose;
  }
}

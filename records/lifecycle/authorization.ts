import { appendAudit, type Queryable } from '../../audit/index.js';
import { authorize, loadRecordingFacts, loadTrackFacts, type RecordAction, type RecordingFacts, type TrackFacts } from '../access-policy.js';
import { auditActor, type Principal } from '../principal.js';
import { LifecycleError } from './errors.js';

/**
 * The lifecycle's use of the one access policy (records/access-policy.ts): load the facts, ask
 * `authorize`, and on a refusal write the audit event (outcome "refused", the reason code) before
 * throwing CHAP_RECORDS_FORBIDDEN with the policy's message. Unknown recordings and tracks are 404s.
 */
export async function requireAllowed(
  db: Queryable,
  principal: Principal,
  action: RecordAction,
  recordingId: string,
  trackId?: string,
): Promise<{ recording: RecordingFacts; track: TrackFacts | undefined }> {
  const recording = await loadRecordingFacts(db, recordingId);
  if (!recording) throw new LifecycleError('CHAP_RECORDS_UNKNOWN_RECORDING', `recording ${recordingId} is not in the catalog: check the id (chaperone list)`, 'recordingId');
  let track: TrackFacts | undefined;
  if (trackId !== undefined) {
    track = await loadTrackFacts(db, recordingId, trackId);
    if (!track) throw new LifecycleError('CHAP_RECORDS_UNKNOWN_TRACK', `recording ${recordingId} has no track ${trackId}`, 'trackId');
  }
  const decision = authorize(principal, action, recording, track);
  if (!decision.allowed) {
    await appendAudit(db, {
      event: `recording.${action}`,
      outcome: 'refused',
      actor: auditActor(principal),
      roomId: recording.roomId,
      subjectId: recordingId,
      details: { reason: decision.reason, trackId: trackId ?? null },
    });
    throw new LifecycleError('CHAP_RECORDS_FORBIDDEN', decision.message);
  }
  return { recording, track };
}

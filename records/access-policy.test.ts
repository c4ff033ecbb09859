import { RECORD_ACTIONS, authorize, listingScope, permittedTracks, type RecordAction, type RecordingFacts, type TrackFacts } from './access-policy.js';
import { principalFromToken, servicePrincipal, type Principal } from './principal.js';

const recording: RecordingFacts = { recordingId: 'rec-1', roomId: 'room-a', participantIds: ['patient-1', 'clin-1'], careTeamIds: ['clin-assigned'], part2: false };
const patientTrack: TrackFacts = { recordingId: 'rec-1', trackId: 't01-video', participantId: 'patient-1' };
const clinicianTrack: TrackFacts = { recordingId: 'rec-1', trackId: 't02-audio', participantId: 'clin-1' };

const user = (role: Principal['role'], subject: string, room?: string): Principal =>
  principalFromToken({ subject, role: role as never, ...(room === undefined ? {} : { room }) });

describe('authorize', () => {
  test('records officers may do everything, auditors only list and read the audit trail', () => {
    const officer = user('records-officer', 'ro-1');
    const auditor = user('auditor', 'au-1');
    for (const action of RECORD_ACTIONS) {
      expect(authorize(officer, action, recording)).toEqual({ allowed: true });
      expect(authorize(auditor, action, recording).allowed).toBe(action === 'list' || action === 'audit-read');
    }
    expect(authorize(auditor, 'play', recording, patientTrack)).toMatchObject({ allowed: false, reason: 'role-not-permitted' });
  });

  test('42 CFR Part 2: the care team is refused; records officers keep access and the patient their own tracks', () => {
    const part2 = { ...recording, part2: true };
    for (const clinician of [user('clinician', 'clin-1', 'room-a'), user('clinician', 'clin-assigned', 'room-a')]) {
      for (const action of ['list', 'play', 'derive'] as RecordAction[]) expect(authorize(clinician, action, part2)).toMatchObject({ allowed: false, reason: 'part2-restricted' });
    }
    for (const action of RECORD_ACTIONS) expect(authorize(user('records-officer', 'ro-1'), action, part2)).toEqual({ allowed: true });
    const patient = user('patient', 'patient-1', 'room-a');
    expect(authorize(patient, 'play', part2, patientTrack)).toEqual({ allowed: true });
    expect(authorize(patient, 'export', part2, patientTrack)).toEqual({ allowed: true });
    expect(authorize(patient, 'play', part2, clinicianTrack)).toMatchObject({ allowed: false, reason: 'own-tracks-only' });
  });

  test('operators and recorders may do nothing with recordings', () => {
    for (const role of ['operator', 'recorder'] as const) {
      for (const action of RECORD_ACTIONS) expect(authorize(user(role, 'x'), action, recording)).toMatchObject({ allowed: false, reason: 'role-not-permitted' });
    }
  });

  test('clinicians: the care team (participants and room assignments) lists, plays and derives; others are refused', () => {
    const participant = user('clinician', 'clin-1', 'room-a');
    const assigned = user('clinician', 'clin-assigned', 'room-a');
    const outsider = user('clinician', 'clin-other', 'room-a');
    for (const action of ['list', 'play', 'derive'] as RecordAction[]) {
      expect(authorize(participant, action, recording, action === 'play' ? patientTrack : undefined).allowed).toBe(true);
      expect(authorize(assigned, action, recording).allowed).toBe(true);
      expect(authorize(outsider, action, recording)).toMatchObject({ allowed: false, reason: 'not-care-team' });
    }
    for (const action of ['export', 'hold', 'release', 'delete', 'audit-read'] as RecordAction[]) {
      expect(authorize(participant, action, recording)).toMatchObject({ allowed: false, reason: 'role-not-permitted' });
    }
  });

  test('patients see recordings they took part in and play or export only their own tracks', () => {
    const patient = user('patient', 'patient-1', 'room-a');
    expect(authorize(patient, 'list', recording).allowed).toBe(true);
    expect(authorize(patient, 'play', recording, patientTrack).allowed).toBe(true);
    expect(authorize(patient, 'export', recording, patientTrack).allowed).toBe(true);
    expect(authorize(patient, 'play', recording, clinicianTrack)).toMatchObject({ allowed: false, reason: 'own-tracks-only' });
    expect(authorize(patient, 'play', recording)).toMatchObject({ allowed: false, reason: 'own-tracks-only' });
    expect(authorize(patient, 'export', recording)).toMatchObject({ allowed: false, reason: 'own-tracks-only' });
    expect(authorize(patient, 'derive', recording)).toMatchObject({ allowed: false, reason: 'role-not-permitted' });
    expect(authorize(user('patient', 'patient-2', 'room-a'), 'list', recording)).toMatchObject({ allowed: false, reason: 'not-participant' });
    expect(permittedTracks(patient, 'export', recording, [patientTrack, clinicianTrack])).toEqual([patientTrack]);
  });

  test('a token scoped to another room reaches nothing there, whatever the role', () => {
    expect(authorize(user('patient', 'patient-1', 'room-b'), 'list', recording)).toMatchObject({ allowed: false, reason: 'wrong-room' });
    expect(authorize(user('records-officer', 'ro-1', 'room-b'), 'play', recording)).toMatchObject({ allowed: false, reason: 'wrong-room' });
  });

  test('a track of another recording is refused', () => {
    const foreign: TrackFacts = { recordingId: 'rec-2', trackId: 't01-video', participantId: 'patient-1' };
    expect(authorize(user('records-officer', 'ro-1'), 'play', recording, foreign)).toMatchObject({ allowed: false, reason: 'track-not-in-recording' });
  });

  test('the service may list and delete (retention), nothing else', () => {
    const service = servicePrincipal('chaperone-retention');
    for (const action of RECORD_ACTIONS) expect(authorize(service, action, recording).allowed).toBe(action === 'list' || action === 'delete');
  });

  test('listing scope follows the role', () => {
    expect(listingScope(user('patient', 'p', 'room-a'))).toEqual({ kind: 'participant', subject: 'p', room: 'room-a' });
    expect(listingScope(user('clinician', 'c', 'room-a'))).toEqual({ kind: 'care-team', subject: 'c', room: 'room-a' });
    expect(listingScope(user('auditor', 'a'))).toEqual({ kind: 'all', room: undefined });
    expect(listingScope(user('operator', 'o'))).toEqual({ kind: 'none' });
  });

  test('an unknown action is a programming error', () => {
    expect(() => authorize(user('records-officer', 'ro'), 'burn' as RecordAction, recording)).toThrow(TypeError);
  });
});

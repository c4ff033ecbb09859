/**
 * How the recorder obtains what it needs to join a call's MLS group as a recorder: a token the key
 * service accepts for this room with the recorder role (the key service later issues a recorder
 * credential against it). One interface; the development implementation signs tokens locally.
 */
export interface RecorderCredentialSource {
  obtain(request: { roomId: string; recorderId: string }): Promise<{ token: string }>;
}

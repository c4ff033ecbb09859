/**
 * How the recorder obtains what it needs to join a call's MLS group (keyservice/recorder-jobs.ts, flow 5):
 * a service token the key service accepts for the room with the recorder role, and a recorder credential
 * the key service issues for the page's signature key against that token, for a dispatched job. The key
 * service refuses (no-dispatch, not-authorized) unless recording is authorized in the room right now.
 */
export interface RecorderCredentialRequest {
  roomId: string;
  /** The record job's id (the recording id). */
  jobId: string;
  /** The page's MLS signature public key, base64. */
  signaturePublicKey: string;
}

export interface IssuedRecorderCredential {
  token: string;
  /** Identity bytes (format 2), base64, for the page's basic credential. */
  credential: string;
  deliveryUrl: string;
}

export interface RecorderCredentialSource {
  obtain(request: RecorderCredentialRequest): Promise<IssuedRecorderCredential>;
}

export class RecorderCredentialError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'RecorderCredentialError';
  }
}

/**
 * Asks the key service over HTTP (POST /v1/rooms/{room}/recorder-credentials) with the recorder's service
 * token. `serviceToken` gives the token for a room (from the platform's identity provider, or the
 * development issuer).
 */
export function keyServiceCredentialSource(options: {
  keyServiceHttpUrl: string;
  serviceToken: (roomId: string) => Promise<string>;
}): RecorderCredentialSource {
  return {
    async obtain({ roomId, jobId, signaturePublicKey }) {
      const token = await options.serviceToken(roomId);
      const response = await fetch(`${options.keyServiceHttpUrl}/v1/rooms/${encodeURIComponent(roomId)}/recorder-credentials`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ jobId, signaturePublicKey }),
      });
      const body = (await response.json().catch(() => ({}))) as {
        credential?: string;
        deliveryUrl?: string;
        error?: { code?: string; message?: string; reason?: string };
      };
      if (response.status !== 201 || !body.credential || !body.deliveryUrl) {
        const code = body.error?.code ?? 'unexpected-response';
        const why = [body.error?.message, body.error?.reason].filter(Boolean).join(': ');
        throw new RecorderCredentialError(code, response.status, `key service refused the recorder credential (${response.status} ${code}${why ? `: ${why}` : ''})`);
      }
      return { token, credential: body.credential, deliveryUrl: body.deliveryUrl };
    },
  };
}

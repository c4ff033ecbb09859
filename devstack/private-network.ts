/**
 * The private network namespace media runs in (scripts/in-private-network.sh creates it). Media tests and
 * the demo refuse to run outside it: nothing they send may leave loopback and the namespace's veth pair.
 */
export interface PrivateNetwork {
  mediaInterface: string;
  mediaAddress: string;
}

export class NotInPrivateNetworkError extends Error {
  constructor() {
    super('media needs the private network namespace: run through scripts/in-private-network.sh (npm test and npm run demo do)');
    this.name = 'NotInPrivateNetworkError';
  }
}

export function privateNetwork(): PrivateNetwork {
  const { CHAPERONE_PRIVATE_NETWORK, CHAPERONE_MEDIA_IF, CHAPERONE_MEDIA_IP } = process.env;
  if (CHAPERONE_PRIVATE_NETWORK !== '1' || !CHAPERONE_MEDIA_IF || !CHAPERONE_MEDIA_IP) throw new NotInPrivateNetworkError();
  return { mediaInterface: CHAPERONE_MEDIA_IF, mediaAddress: CHAPERONE_MEDIA_IP };
}

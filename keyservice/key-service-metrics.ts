import { Gauge, Histogram, type Registry } from 'prom-client';
import { LATENCY_BUCKETS_SECONDS } from '../ops/metrics.js';

/**
 * The key service's Prometheus metrics. Consent-to-join latency runs from the moment recording became
 * authorized (every required consent in; the record job dispatched) to the moment the recorder is a live
 * member of the group — the time a consenting patient waits for the indicator. Rejoins after a recorder
 * crash are not observed (they are not a consent).
 */
export class KeyServiceMetrics {
  private readonly consentToJoin: Histogram;

  constructor(registry: Registry, live: { rooms: () => number; connections: () => number }) {
    this.consentToJoin = new Histogram({
      name: 'chaperone_keyservice_consent_to_join_seconds',
      help: 'Time from recording authorized (consent complete, record job dispatched) to the recorder joined the MLS group',
      buckets: [...LATENCY_BUCKETS_SECONDS],
      registers: [registry],
    });
    new Gauge({
      name: 'chaperone_keyservice_rooms',
      help: 'Calls (MLS groups) this key service instance holds',
      registers: [registry],
      collect() {
        this.set(live.rooms());
      },
    });
    new Gauge({
      name: 'chaperone_keyservice_connections',
      help: 'Delivery-service WebSocket connections open on this instance',
      registers: [registry],
      collect() {
        this.set(live.connections());
      },
    });
  }

  recorderJoined(consentToJoinMs: number): void {
    this.consentToJoin.observe(Math.max(0, consentToJoinMs) / 1000);
  }
}

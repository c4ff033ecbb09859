import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * One Prometheus registry per service process (prom-client): the Node process metrics (CPU, memory, event
 * loop lag, GC) plus the service's own, every series labelled with the service. Metric names are
 * `chaperone_<service>_…`; labels carry identifiers of kinds and reasons only — never a room, recording or
 * participant id (unbounded, and identifiers of people do not belong in a monitoring system).
 */
export type ServiceName = 'keyservice' | 'recorder' | 'pipeline' | 'records' | 'lifecycle';

export function createMetricsRegistry(service: ServiceName, options: { processMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  // Tests build several registries in one process: process metrics are opt-out there.
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}

/** Histogram buckets in seconds, for latencies from a second to an hour. */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600];

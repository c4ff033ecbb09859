import { ConfigSource, OPS_SETTINGS, opsListenerConfig, type OpsListenerConfig } from '../../ops/config-source.js';
import { MIN_SWEEP_EVERY_MS } from './retention-scheduler.js';

/**
 * The lifecycle process's own settings (ops/config-source.ts: environment variables or the JSON file named
 * by CHAPERONE_CONFIG_FILE; an unknown CHAPERONE_RETENTION_* or CHAPERONE_LIFECYCLE_* name is refused by
 * name; a bad value is refused with the setting named and the fix):
 *
 *   CHAPERONE_SEAL_CONFIG                the pipeline's JSON configuration (catalog, Redis, bucket, key root):
 *                                        queue/config.ts, whose production refusals (local keys, loopback or
 *                                        plain-http S3/KMS, redis://, PostgreSQL without TLS) apply here too
 *   CHAPERONE_RETENTION_SWEEP_EVERY_MS   sweep interval, 1000 … 86400000 (default 3600000, hourly)
 *   CHAPERONE_OPS_HOST / _PORT           ops listener: /metrics, /healthz, /readyz (default 127.0.0.1:9464)
 */
export interface LifecycleConfig {
  production: boolean;
  sealConfigPath: string;
  everyMs: number;
  ops: OpsListenerConfig;
}

export const LIFECYCLE_SETTINGS = ['CHAPERONE_SEAL_CONFIG', 'CHAPERONE_RETENTION_SWEEP_EVERY_MS', ...OPS_SETTINGS] as const;

export function lifecycleConfigFromEnv(env: Record<string, string | undefined>): Readonly<LifecycleConfig> {
  const source = ConfigSource.load(env, { known: LIFECYCLE_SETTINGS, prefixes: ['CHAPERONE_RETENTION_', 'CHAPERONE_LIFECYCLE_'] });
  return Object.freeze({
    production: source.production,
    sealConfigPath: source.required('CHAPERONE_SEAL_CONFIG', "the pipeline's JSON configuration file (catalog, Redis, bucket, key root)"),
    everyMs: source.integer('CHAPERONE_RETENTION_SWEEP_EVERY_MS', { default: 3_600_000, min: MIN_SWEEP_EVERY_MS, max: 86_400_000 }),
    ops: opsListenerConfig(source),
  });
}

import type pg from 'pg';
import type { KeyRoot } from './keys/key-root.js';
import type { Logger } from './logger.js';
import type { ManifestSigner } from './manifest-signer.js';
import type { ObjectStore } from './object-store.js';
import type { Spool } from './spool.js';

/**
 * What the sealing steps run against. Built from configuration by createSealServices (config.ts) in the
 * service, or assembled by tests around their own servers (an S3 client with a fault-injecting
 * middleware, a KMS double...).
 */
export interface SealServices {
  pool: pg.Pool;
  store: ObjectStore;
  keyRoot: KeyRoot;
  signer: ManifestSigner;
  spool: Spool;
  logger: Logger;
  /** ESDK frame length and spool read chunk size, bytes. */
  frameLengthBytes: number;
}

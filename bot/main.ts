import { resolve } from 'node:path';
import { issueDevToken } from '../keyservice/index.js';
import { startStaticServer } from './page-server.js';
import { ConfigError, recorderConfigFromEnv } from './recorder-config.js';
import { startRecorderService, type RecorderService } from './recorder-service.js';
import { RecorderMetrics } from './recorder-metrics.js';
import { recorderReadiness } from './recorder-readiness.js';
import { createServiceLogger } from '../ops/logger.js';
import { createMetricsRegistry } from '../ops/metrics.js';
import { startOpsServer } from '../ops/ops-server.js';
import { sealRequestFor } from './seal-handoff.js';
import { consentRefsFor, openSealEnqueuer } from '../queue/index.js';
import { keyServiceCredentialSource, type RecorderCredentialSource } from './recorder-credentials.js';
import { readFile } from 'node:fs/promises';

/**
 * Entry of the recorder process (`node dist/node/recorder.mjs`). Configuration from the environment
 * (recorder-config.ts); SIGTERM finishes current recordings and exits 0, SIGINT aborts them.
 */
const log = createServiceLogger('chaperone-recorder');

async function main(): Promise<void> {
  let config;
  try {
    config = recorderConfigFromEnv(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`recorder: refusing to start: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  let serviceToken: (roomId: string) => Promise<string>;
  if (config.devTokenSecret) {
    log.warn('development token issuer in use: recorder tokens are signed with a local shared secret; not for production');
    const secret = Buffer.from(config.devTokenSecret, 'base64url');
    const sub = config.devRecorderId;
    serviceToken = (roomId) => issueDevToken(secret, { sub, room: roomId, role: 'recorder' });
  } else {
    const file = config.tokenFile!;
    serviceToken = async () => (await readFile(file, 'utf8')).trim();
  }
  const credentials: RecorderCredentialSource = keyServiceCredentialSource({ keyServiceHttpUrl: config.keyServiceUrl, serviceToken });
  const pages = await startStaticServer(resolve(config.webDir));
  const sealing = config.databaseUrl ? openSealEnqueuer({ databaseUrl: config.databaseUrl, redisUrl: config.redisUrl }) : undefined;
  if (!sealing) log.warn('CHAPERONE_DATABASE_URL is not set: finished recordings stay in the spool, unsealed');
  const registry = createMetricsRegistry('recorder');
  const current: { service?: RecorderService } = {};
  const metrics = new RecorderMetrics(registry, () => current.service?.active().size ?? 0);
  const service = await startRecorderService({
    metrics,
    redisUrl: config.redisUrl,
    sfuUrl: config.sfuUrl,
    spoolDir: config.spoolDir,
    pageUrl: `${pages.url}/recorder/index.html`,
    maxConcurrentCalls: config.maxConcurrentCalls,
    credentials,
    log: (event, fields) => log.info(fields, event),
    onRecordingFinished: async (job, manifest) => {
      if (!sealing) return;
      const consentRefs = job.policy
        ? await consentRefsFor(sealing.pool, { roomId: job.roomId, policyVersion: job.policy.policyVersion, startedAtMs: manifest.startedAtMs, endedAtMs: manifest.endedAtMs })
        : [];
      const result = await sealing.enqueue(sealRequestFor(job, manifest, consentRefs));
      log.info({ recordingId: result.recordingId, status: result.status, segments: result.segments }, 'recording handed to sealing');
    },
  });
  current.service = service;
  const ops = await startOpsServer({ host: config.ops.host, port: config.ops.port, registry, readiness: recorderReadiness(service, config.spoolDir) });
  log.info({ maxConcurrentCalls: config.maxConcurrentCalls, ops: ops.url }, 'recorder ready');
  let stopping = false;
  const shutdown = (signal: 'SIGTERM' | 'SIGINT') => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, active: service.active().size }, signal === 'SIGTERM' ? 'finishing recordings' : 'aborting recordings');
    const done = signal === 'SIGTERM' ? service.drain() : service.abort();
    void done.then(async () => {
      await ops.close();
      await pages.close();
      await sealing?.close();
      process.exit(signal === 'SIGTERM' ? 0 : 130);
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`recorder: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

import { resolve } from 'node:path';
import pino from 'pino';
import { issueDevToken } from '../keyservice/index.js';
import { startStaticServer } from './page-server.js';
import { recorderConfigFromEnv, RecorderConfigError } from './recorder-config.js';
import { startRecorderService } from './recorder-service.js';
import type { RecorderCredentialSource } from './recorder-credentials.js';

/**
 * Entry of the recorder process (`node dist/node/recorder.mjs`). Configuration from the environment
 * (recorder-config.ts); SIGTERM finishes current recordings and exits 0, SIGINT aborts them.
 */
const log = pino({ name: 'recorder', redact: { paths: ['token', '*.token', 'callSecret', '*.callSecret'], censor: '[redacted]' } });

async function main(): Promise<void> {
  let config;
  try {
    config = recorderConfigFromEnv(process.env);
  } catch (error) {
    if (error instanceof RecorderConfigError) {
      process.stderr.write(`recorder: refusing to start: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  let credentials: RecorderCredentialSource;
  if (config.devTokenSecret) {
    log.warn('development token issuer in use: recorder tokens are signed with a local shared secret; not for production');
    const secret = Buffer.from(config.devTokenSecret, 'base64url');
    credentials = { obtain: async ({ roomId, recorderId }) => ({ token: await issueDevToken(secret, { sub: recorderId, room: roomId, role: 'recorder' }) }) };
  } else {
    process.stderr.write('recorder: refusing to start: no recorder credential source configured (set CHAPERONE_DEV_TOKEN_SECRET for development)\n');
    process.exit(2);
  }
  const pages = await startStaticServer(resolve(config.webDir));
  const service = await startRecorderService({
    redisUrl: config.redisUrl,
    keyServiceUrl: config.keyServiceUrl,
    sfuUrl: config.sfuUrl,
    spoolDir: config.spoolDir,
    pageUrl: `${pages.url}/recorder/index.html`,
    maxConcurrentCalls: config.maxConcurrentCalls,
    credentials,
    log: (event, fields) => log.info(fields, event),
  });
  log.info({ maxConcurrentCalls: config.maxConcurrentCalls }, 'recorder ready');
  let stopping = false;
  const shutdown = (signal: 'SIGTERM' | 'SIGINT') => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, active: service.active().size }, signal === 'SIGTERM' ? 'finishing recordings' : 'aborting recordings');
    const done = signal === 'SIGTERM' ? service.drain() : service.abort();
    void done.then(async () => {
      await pages.close();
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

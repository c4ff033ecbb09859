import { access, constants } from 'node:fs/promises';
import { ReadinessError, redisReadiness, type ReadinessCheck } from '../ops/ops-server.js';
import type { RecorderService } from './recorder-service.js';

/**
 * When a recorder should be sent calls: it is not draining, Redis (its record queue) answers, and its
 * spool is writable. Chromium is not checked: it is launched on the first call and relaunched after a
 * crash, and a call that cannot start fails its job for the key service to see.
 */
export function recorderReadiness(service: Pick<RecorderService, 'accepting' | 'ping'>, spoolDir: string): ReadinessCheck[] {
  return [
    {
      name: 'accepting',
      async check() {
        if (!service.accepting()) throw new ReadinessError('draining');
      },
    },
    redisReadiness('redis', async () => service),
    {
      name: 'spool',
      async check() {
        await access(spoolDir, constants.W_OK);
      },
    },
  ];
}

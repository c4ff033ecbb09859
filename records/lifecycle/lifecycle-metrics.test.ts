import { Registry } from 'prom-client';
import { instrumentLifecycle } from './lifecycle-metrics.js';

describe('lifecycle metrics', () => {
  test('a sweep result counts deletions, holds, resumptions and failures by code; the last success is stamped', async () => {
    const registry = new Registry();
    let now = 1_700_000_000_000;
    const metrics = instrumentLifecycle(registry, () => now);
    const before = await registry.metrics();
    expect(before).toMatch(/^chaperone_lifecycle_last_successful_sweep_timestamp_seconds 0$/m);
    expect(before).toMatch(/^chaperone_lifecycle_sweeps_total\{outcome="failed"\} 0$/m);
    metrics.sweepDone({ nowMs: now, deleted: ['r1', 'r2'], held: ['r3'], failed: [{ id: 'r4', code: 'CHAP_RECORDS_STORE_UNAVAILABLE' }, { id: 'r5', code: 'not a code' }], resumed: ['d1'] });
    now += 5000;
    metrics.sweepFailed(undefined, new Error('redis'));
    const text = await registry.metrics();
    expect(text).toMatch(/^chaperone_lifecycle_sweeps_total\{outcome="ok"\} 1$/m);
    expect(text).toMatch(/^chaperone_lifecycle_sweeps_total\{outcome="failed"\} 1$/m);
    expect(text).toMatch(/^chaperone_lifecycle_recordings_deleted_total 2$/m);
    expect(text).toMatch(/^chaperone_lifecycle_recordings_held_total 1$/m);
    expect(text).toMatch(/^chaperone_lifecycle_deletions_resumed_total 1$/m);
    expect(text).toMatch(/^chaperone_lifecycle_deletion_failures_total\{code="CHAP_RECORDS_STORE_UNAVAILABLE"\} 1$/m);
    expect(text).toMatch(/^chaperone_lifecycle_deletion_failures_total\{code="other"\} 1$/m);
    // A failed sweep does not move the last success.
    expect(text).toMatch(/^chaperone_lifecycle_last_successful_sweep_timestamp_seconds 1700000000$/m);
    expect(text).not.toMatch(/r1|r4|d1/);
  });
});

import { Writable } from 'node:stream';
import { Counter } from 'prom-client';
import { createServiceLogger } from './logger.js';
import { createMetricsRegistry } from './metrics.js';
import { ReadinessError, startOpsServer, type OpsServer } from './ops-server.js';

/** The ops listener every service runs, and the shared logger's redaction. */

describe('ops listener', () => {
  let server: OpsServer;
  let dependencyUp = true;
  let alive = true;
  const registry = createMetricsRegistry('pipeline', { processMetrics: false });
  const counter = new Counter({ name: 'chaperone_test_things_total', help: 'things', registers: [registry] });

  beforeAll(async () => {
    server = await startOpsServer({
      host: '127.0.0.1',
      port: 0,
      registry,
      alive: () => alive,
      checkTimeoutMs: 200,
      readiness: [
        {
          name: 'redis',
          check: async () => {
            if (!dependencyUp) throw Object.assign(new Error('connect ECONNREFUSED redis://:hunter2@10.0.0.5:6379'), { code: 'ECONNREFUSED' });
          },
        },
        { name: 'slow', check: () => (dependencyUp ? Promise.resolve() : new Promise<void>(() => undefined)) },
        { name: 'accepting', check: async () => (dependencyUp ? undefined : Promise.reject(new ReadinessError('draining'))) },
      ],
    });
  });
  afterAll(() => server.close());

  test('/metrics serves the registry in Prometheus text format, labelled with the service', async () => {
    counter.inc(3);
    const response = await fetch(`${server.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await response.text()).toMatch(/^chaperone_test_things_total\{service="pipeline"\} 3$/m);
  });

  test('/readyz passes while every dependency answers, and names the failing ones (code only, never a message) when not', async () => {
    const ok = await fetch(`${server.url}/readyz`);
    expect({ status: ok.status, body: await ok.json() }).toEqual({ status: 200, body: { status: 'ready', checks: { redis: 'ok', slow: 'ok', accepting: 'ok' } } });
    dependencyUp = false;
    try {
      const down = await fetch(`${server.url}/readyz`);
      const text = await down.text();
      expect(down.status).toBe(503);
      expect(JSON.parse(text)).toEqual({ status: 'not-ready', checks: { redis: 'ECONNREFUSED', slow: 'timeout', accepting: 'draining' } });
      expect(text).not.toContain('hunter2');
    } finally {
      dependencyUp = true;
    }
  });

  test('/healthz answers while the process is alive; other paths and methods are refused', async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    alive = false;
    expect((await fetch(`${server.url}/healthz`)).status).toBe(503);
    alive = true;
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    expect((await fetch(`${server.url}/metrics`, { method: 'POST' })).status).toBe(405);
  });
});

describe('service logger', () => {
  test('redacts secrets, key material and PHI field names at the top level and one level down', () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const log = createServiceLogger('chaperone-test', { destination });
    log.info(
      {
        recordingId: 'rec-1',
        token: 'eyJhbGciOi.secret',
        redisUrl: 'rediss://:pw@redis:6380',
        request: { authorization: 'Bearer abc', displayName: 'Ana Patient', dataKey: 'AAAA', epochSecret: 'BBBB' },
        credentials: { accessKeyId: 'AKIA', secretAccessKey: 'x' },
      },
      'recording handed to sealing',
    );
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ service: 'chaperone-test', recordingId: 'rec-1', token: '[redacted]', redisUrl: '[redacted]', credentials: '[redacted]', msg: 'recording handed to sealing' });
    expect(line.request).toEqual({ authorization: '[redacted]', displayName: '[redacted]', dataKey: '[redacted]', epochSecret: '[redacted]' });
    expect(lines[0]).not.toMatch(/eyJhbGciOi|pw@|Ana Patient|AKIA/);
  });
});

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/**
 * One small HTTP listener per service for operations, apart from any public API (so a NetworkPolicy can
 * open it to Prometheus and the kubelet only):
 *   GET /metrics  Prometheus text format (prom-client registry)
 *   GET /healthz  liveness: the process answers (and `alive()` holds); a failure means restart it
 *   GET /readyz   readiness: every dependency check passes within its timeout; a failure means send no
 *                 work (a draining recorder is not ready, but alive)
 * Answers name failing checks and the error's class or code only — never a message, which could carry a
 * URL with credentials.
 */

export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

export interface OpsServerOptions {
  host: string;
  /** 0 = any free port. */
  port: number;
  registry: Registry;
  readiness?: readonly ReadinessCheck[];
  /** Liveness beyond "the event loop answers". */
  alive?: () => boolean;
  /** Per readiness check. Default 2000 ms. */
  checkTimeoutMs?: number;
}

export interface OpsServer {
  /** http://host:port */
  url: string;
  close(): Promise<void>;
}

export class ReadinessError extends Error {
  override readonly name = 'ReadinessError';
}

function reasonOf(error: unknown): string {
  if (error instanceof ReadinessError) return error.message;
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(code)) return code;
  return error instanceof Error ? error.name : 'failed';
}

async function runCheck(check: ReadinessCheck, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check.check(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ReadinessError('timeout')), timeoutMs);
      }),
    ]);
    return 'ok';
  } catch (error) {
    return reasonOf(error);
  } finally {
    clearTimeout(timer);
  }
}

export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const timeoutMs = options.checkTimeoutMs ?? 2000;
  const json = (response: ServerResponse, status: number, body: unknown) => {
    response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
  };
  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') return json(response, 405, { error: 'method-not-allowed' });
    if (path === '/healthz') {
      const alive = options.alive?.() ?? true;
      return json(response, alive ? 200 : 503, { status: alive ? 'ok' : 'failing' });
    }
    if (path === '/readyz') {
      const names = (options.readiness ?? []).map((c) => c.name);
      const results = await Promise.all((options.readiness ?? []).map((c) => runCheck(c, timeoutMs)));
      const checks = Object.fromEntries(names.map((name, i) => [name, results[i]!]));
      const ready = results.every((r) => r === 'ok');
      return json(response, ready ? 200 : 503, { status: ready ? 'ready' : 'not-ready', checks });
    }
    if (path === '/metrics') {
      const text = await options.registry.metrics();
      response.writeHead(200, { 'content-type': options.registry.contentType }).end(text);
      return;
    }
    return json(response, 404, { error: 'not-found' });
  };
  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) json(response, 500, { error: reasonOf(error) });
      else response.destroy();
    });
  });
  // Scrapes and probes are short; a stuck client must not hold a socket.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** Readiness of a Redis client (ioredis): PING answers PONG. */
export function redisReadiness(name: string, client: () => Promise<{ ping(): Promise<string> }>): ReadinessCheck {
  return {
    name,
    async check() {
      const answer = await (await client()).ping();
      if (answer !== 'PONG') throw new ReadinessError('unexpected-answer');
    },
  };
}

/** Readiness of a PostgreSQL pool: `select 1` on a pooled connection. */
export function postgresReadiness(name: string, pool: { query(sql: string): Promise<unknown> }): ReadinessCheck {
  return {
    name,
    async check() {
      await pool.query('select 1');
    },
  };
}

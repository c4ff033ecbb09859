import { mkdtemp, writeFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManagedProcess } from './managed-process.js';

/**
 * Runs Debian's Janus 1.1.2 with a private configuration folder (harness.md): only the VideoRoom plugin
 * and the WebSocket transport, the transport bound to one address, and ICE restricted to one interface
 * (libnice gathers no candidates on loopback, so media uses the private namespace's veth end).
 */
export interface JanusServerOptions {
  /** Interface ICE may use, e.g. the veth end inside the test's namespace. */
  mediaInterface: string;
  /** Address of that interface: Janus puts it in its SDP. */
  mediaAddress: string;
  wsHost?: string;
  wsPort: number;
  /** Lowest UDP port for RTP; a block of 1000 is used. Default: a block chosen from wsPort, so two
   * servers started side by side (tests in parallel) do not compete for the same ports. */
  rtpPortBase?: number;
}

export interface JanusServer {
  wsUrl: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

const JANUS_LIB = '/usr/lib/x86_64-linux-gnu/janus';
const KEEP_PLUGINS = new Set(['libjanus_videoroom.so']);
const KEEP_TRANSPORTS = new Set(['libjanus_websockets.so']);

async function sharedObjects(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((f) => f.endsWith('.so'));
  } catch {
    return [];
  }
}

export async function startJanusServer(options: JanusServerOptions): Promise<JanusServer> {
  const { mediaInterface, mediaAddress, wsHost = '127.0.0.1', wsPort, rtpPortBase = 20000 + (wsPort % 30) * 1000 } = options;
  const dir = await mkdtemp(join(tmpdir(), 'chaperone-janus-'));
  const disabledPlugins = (await sharedObjects(`${JANUS_LIB}/plugins`)).filter((f) => !KEEP_PLUGINS.has(f));
  const disabledTransports = (await sharedObjects(`${JANUS_LIB}/transports`)).filter((f) => !KEEP_TRANSPORTS.has(f));
  const disabledEvents = await sharedObjects(`${JANUS_LIB}/events`);
  const disabledLoggers = await sharedObjects(`${JANUS_LIB}/loggers`);
  await writeFile(
    join(dir, 'janus.jcfg'),
    `general: {
  configs_folder = "${dir}"
  plugins_folder = "${JANUS_LIB}/plugins"
  transports_folder = "${JANUS_LIB}/transports"
  events_folder = "${JANUS_LIB}/events"
  loggers_folder = "${JANUS_LIB}/loggers"
  log_to_stdout = true
  debug_level = 4
  session_timeout = 60
  server_name = "chaperone-dev-sfu"
  interface = "${mediaAddress}"
}
plugins: { disable = "${disabledPlugins.join(',')}" }
transports: { disable = "${disabledTransports.join(',')}" }
events: { broadcast = false disable = "${disabledEvents.join(',')}" }
loggers: { disable = "${disabledLoggers.join(',')}" }
media: { rtp_port_range = "${rtpPortBase}-${rtpPortBase + 999}" }
nat: { ice_enforce_list = "${mediaInterface}" nice_debug = false }
`,
  );
  await writeFile(join(dir, 'janus.plugin.videoroom.jcfg'), 'general: { }\n');
  await writeFile(
    join(dir, 'janus.transport.websockets.jcfg'),
    `general: { json = "indented" ws = true ws_port = ${wsPort} ws_ip = "${wsHost}" wss = false }
admin: { admin_ws = false admin_wss = false }
`,
  );
  const proc = new ManagedProcess({
    name: 'janus',
    command: '/usr/bin/janus',
    args: ['-F', dir, '-C', join(dir, 'janus.jcfg')],
    readyLine: /websockets server started/i,
    readyTimeoutMs: 20000,
  });
  await proc.start();
  return {
    wsUrl: `ws://${wsHost}:${wsPort}`,
    process: proc,
    async stop() {
      await proc.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

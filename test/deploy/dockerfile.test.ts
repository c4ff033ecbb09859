import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { REPO_ROOT } from './helm.js';
import { createMetricsRegistry } from '../../ops/metrics.js';
import { startOpsServer } from '../../ops/ops-server.js';
import { STREAMING_SERVICE_NODE_FLAGS } from '../../queue/node-flags.js';

/** One Dockerfile instruction, continuation lines joined. */
interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) {
      i++;
      const next = lines[i]!.trim();
      if (next.startsWith('#')) continue;
      line = `${line.slice(0, -1).trimEnd()} ${next}`;
    }
    const match = /^([A-Za-z]+)\s+(.*)$/.exec(line);
    if (match === null) throw new Error(`Dockerfile line ${start + 1}: cannot parse "${line}"`);
    instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2]!, line: start + 1 });
  }
  return instructions;
}

interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

function stages(instructions: Instruction[]): Stage[] {
  const args = new Map<string, string>();
  const result: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'ARG' && result.length === 0) {
      const [name, value] = instruction.args.split('=', 2);
      if (value !== undefined) args.set(name!.trim(), value.trim());
      continue;
    }
    if (instruction.keyword === 'FROM') {
      const [image, as, name] = instruction.args.split(/\s+/);
      const resolved = image!.replace(/\$\{?([A-Za-z_]+)\}?/g, (_, arg: string) => args.get(arg) ?? `<unset ${arg}>`);
      result.push({ from: resolved, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
      continue;
    }
    result.at(-1)?.instructions.push(instruction);
  }
  return result;
}

const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
const all = parseDockerfile(dockerfile);
const built = stages(all);
const runtime = built.at(-1)!;
const named = (keyword: string, stage: Stage = runtime) => stage.instructions.filter((i) => i.keyword === keyword);

describe('Dockerfile lint', () => {
  test('is multi-stage on a pinned Node 24 bookworm-slim base (exact release or digest, never a floating tag)', () => {
    expect(built.length).toBeGreaterThanOrEqual(2);
    for (const stage of built) {
      const stageNames = built.map((s) => s.name);
      if (stageNames.includes(stage.from)) continue;
      expect(stage.from).toMatch(/^node:24\.\d+\.\d+-bookworm-slim(@sha256:[0-9a-f]{64})?$|^node@sha256:[0-9a-f]{64}$/);
    }
  });

  test('the runtime stage installs Debian chromium, ffmpeg and tini without recommends and cleans the apt lists in the same layer', () => {
    const installs = all.filter((i) => i.keyword === 'RUN' && /apt-get\s+install/.test(i.args));
    expect(installs.length).toBeGreaterThan(0);
    for (const run of installs) {
      expect(run.args).toMatch(/apt-get update/);
      expect(run.args).toMatch(/--no-install-recommends/);
      expect(run.args).toMatch(/rm -rf \/var\/lib\/apt\/lists\/\*/);
    }
    const runtimeInstall = named('RUN').map((i) => i.args).join(' ');
    for (const name of ['chromium', 'ffmpeg', 'tini']) expect(runtimeInstall).toMatch(new RegExp(`\\b${name}\\b`));
  });

  test('the runtime stage takes production dependencies only: node_modules comes from an npm ci --omit=dev stage', () => {
    const copy = named('COPY').find((i) => /node_modules/.test(i.args));
    expect(copy).toBeDefined();
    const source = /--from=(\S+)/.exec(copy!.args)?.[1];
    const stage = built.find((s) => s.name === source);
    expect(stage).toBeDefined();
    expect(named('RUN', stage).map((i) => i.args).join(' ')).toMatch(/npm ci\b.*--omit=dev/);
    expect(named('RUN').map((i) => i.args).join(' ')).not.toMatch(/npm (ci|install)/);
  });

  test('every package the service bundles import at run time is a production dependency (the image omits devDependencies)', async () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const entries = { keyservice: 'deploy/keyservice.ts', recorder: 'bot/main.ts', pipeline: 'queue/main.ts', records: 'records/main.ts', lifecycle: 'records/lifecycle/main.ts', migrate: 'deploy/migrate.ts' };
    for (const [service, entry] of Object.entries(entries)) {
      // The same options as scripts/build.mjs for Node entries, in memory.
      const result = await build({ absWorkingDir: REPO_ROOT, entryPoints: [entry], bundle: true, format: 'esm', platform: 'node', target: 'node24', packages: 'external', write: false, metafile: true, logLevel: 'silent', outfile: `out/${service}.mjs` });
      const packages = new Set(
        Object.values(result.metafile.outputs)
          .flatMap((output) => output.imports)
          .filter((i) => i.external && !i.path.startsWith('node:'))
          .map((i) => i.path.split('/').slice(0, i.path.startsWith('@') ? 2 : 1).join('/')),
      );
      expect(packages.size).toBeGreaterThan(0);
      expect({ service, notProduction: [...packages].filter((name) => !(name in pkg.dependencies)) }).toEqual({ service, notProduction: [] });
    }
  });

  test('runs as a non-root user set before ENTRYPOINT and CMD, with tini as PID 1 in exec form', () => {
    const users = named('USER');
    expect(users.length).toBeGreaterThan(0);
    const user = users.at(-1)!;
    expect(user.args.split(':')[0]).not.toMatch(/^(root|0)$/);
    const entrypoint = named('ENTRYPOINT').at(-1)!;
    const cmd = named('CMD').at(-1)!;
    expect(user.line).toBeLessThan(entrypoint.line);
    expect(user.line).toBeLessThan(cmd.line);
    const exec = JSON.parse(entrypoint.args) as string[];
    expect(exec.slice(0, 3)).toEqual(['/usr/bin/tini', '--', '/app/deploy/entrypoint.sh']);
    expect(JSON.parse(cmd.args)).toEqual(['keyservice']);
  });

  test('has a HEALTHCHECK in the runtime stage, on the ops listener every service opens on all interfaces', () => {
    const healthcheck = named('HEALTHCHECK');
    expect(healthcheck).toHaveLength(1);
    expect(healthcheck[0]!.args).not.toMatch(/^NONE/i);
    expect(healthcheck[0]!.args).toMatch(/CMD \["\/app\/deploy\/healthcheck\.sh"\]/);
    const env = named('ENV').map((i) => i.args).join(' ');
    expect(env).toMatch(/CHAPERONE_OPS_HOST=0\.0\.0\.0/);
    expect(env).toMatch(/CHAPERONE_OPS_PORT=9464/);
    expect(named('EXPOSE').map((i) => i.args)).toContain('9464');
  });

  test('carries no credentials: no ENV or ARG named like a secret, no secret-looking values, no key files copied', () => {
    for (const instruction of all.filter((i) => i.keyword === 'ENV' || i.keyword === 'ARG')) {
      for (const [, name, value] of instruction.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=(\S*)/g)) {
        expect(name).not.toMatch(/SECRET|PASSWORD|PASSWD|TOKEN|ACCESS_KEY|PRIVATE_KEY|CREDENTIAL/i);
        expect(value).not.toMatch(/:\/\/[^/\s]*:[^@\s]*@|AKIA[0-9A-Z]{16}|-----BEGIN/);
      }
    }
    for (const copy of all.filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD')) expect(copy.args).not.toMatch(/\.env\b|\.pem\b|\.key\b|id_rsa/);
    expect(all.some((i) => i.keyword === 'ADD')).toBe(false);
  });

  test('.dockerignore keeps node_modules, git, local state and secrets out of the build context', () => {
    const ignored = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    for (const pattern of ['**/node_modules', '.git', '.tmp', 'artifacts', '**/.env', '**/*.pem']) expect(ignored).toContain(pattern);
  });
});

describe('deploy/entrypoint.sh', () => {
  let app: string;
  let entrypoint: string;
  beforeAll(() => {
    app = mkdtempSync(join(tmpdir(), 'chaperone-app-'));
    mkdirSync(join(app, 'dist/node'), { recursive: true });
    // Stub bundles that report how they were started (user, directory, arguments).
    for (const name of ['keyservice', 'recorder', 'pipeline', 'records', 'lifecycle', 'migrate']) {
      writeFileSync(join(app, `dist/node/${name}.mjs`), `console.log(JSON.stringify({ bundle: '${name}', uid: process.getuid(), cwd: process.cwd(), execArgv: process.execArgv }));\n`);
    }
    // As in the image, the entrypoint lives in the app directory: the checkout may sit where the image
    // user cannot read (a clone under /root, say).
    entrypoint = join(app, 'entrypoint.sh');
    copyFileSync(join(REPO_ROOT, 'deploy/entrypoint.sh'), entrypoint);
    chmodSync(entrypoint, 0o755);
    chmodSync(app, 0o777); // the image user (uid 10001) creates the run directory here
  });
  afterAll(() => rmSync(app, { recursive: true, force: true }));

  /** Runs the entrypoint as the image's user (uid 10001) when the tests run as root. */
  const run = (args: string[], asImageUser = true) => {
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', CHAPERONE_APP_DIR: app, CHAPERONE_RUN_DIR: join(app, 'run') };
    const drop = asImageUser && process.getuid?.() === 0 ? ['setpriv', '--reuid=10001', '--regid=10001', '--clear-groups'] : [];
    const command = [...drop, '/bin/sh', entrypoint, ...args];
    const result = spawnSync(command[0]!, command.slice(1), { encoding: 'utf8', env, cwd: app });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  };

  test('refuses an unknown service name with a clear message and exit code 2', () => {
    const result = run(['billing']);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/unknown service 'billing'; usage: entrypoint\.sh <keyservice\|recorder\|pipeline\|records\|lifecycle\|migrate>/);
    expect(result.stdout).toBe('');
  });

  test('refuses to start without a service name (exit 2)', () => {
    const result = run([]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/no service named/);
  });

  test('starts each service bundle (and the migration) with node from the app directory, as the image user', () => {
    for (const name of ['keyservice', 'recorder', 'pipeline', 'records', 'lifecycle', 'migrate']) {
      const result = run([name]);
      expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
      const started = JSON.parse(result.stdout) as { bundle: string; uid: number; cwd: string; execArgv: string[] };
      expect(started).toMatchObject({ bundle: name, cwd: app });
      expect(started.execArgv).toContain('--enable-source-maps');
      // Streaming services run with queue/node-flags.ts's flags (the seal benchmark measures with them too).
      const streaming = name === 'pipeline' || name === 'records';
      for (const flag of STREAMING_SERVICE_NODE_FLAGS) expect(started.execArgv.includes(flag)).toBe(streaming);
      if (process.getuid?.() === 0) expect(started.uid).toBe(10001);
      expect(readFileSync(join(app, 'run/service'), 'utf8')).toBe(`${name}\n`);
    }
  });

  if (process.getuid?.() === 0) {
    test('refuses to run a service as root', () => {
      const result = run(['recorder'], false);
      expect(result.status).toBe(2);
      expect(result.stderr).toMatch(/refusing to run recorder as root/);
    });
  }
});

describe('deploy/healthcheck.sh', () => {
  let runDir: string;
  beforeAll(() => {
    runDir = mkdtempSync(join(tmpdir(), 'chaperone-run-'));
  });
  afterAll(() => rmSync(runDir, { recursive: true, force: true }));

  /** Runs the check as a child (asynchronously: the ops listener it asks lives in this process). */
  const check = (service: string | undefined, port: number) => {
    if (service === undefined) rmSync(join(runDir, 'service'), { force: true });
    else writeFileSync(join(runDir, 'service'), `${service}\n`);
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', CHAPERONE_RUN_DIR: runDir, CHAPERONE_OPS_PORT: String(port) };
    return new Promise<number | null>((resolve, reject) => {
      const child = spawn('/bin/sh', [join(REPO_ROOT, 'deploy/healthcheck.sh')], { env, stdio: 'ignore' });
      child.on('error', reject);
      child.on('close', resolve);
    });
  };

  test("passes while the service's ops listener answers /healthz, fails when it does not or nothing started", async () => {
    const ops = await startOpsServer({ host: '127.0.0.1', port: 0, registry: createMetricsRegistry('recorder', { processMetrics: false }) });
    const port = Number(new URL(ops.url).port);
    try {
      for (const service of ['keyservice', 'recorder', 'pipeline', 'records', 'lifecycle']) expect({ service, status: await check(service, port) }).toEqual({ service, status: 0 });
      expect(await check(undefined, port)).toBe(1);
    } finally {
      await ops.close();
    }
    expect(await check('recorder', port)).toBe(1);
    expect(await check('migrate', port)).toBe(0);
  });
});

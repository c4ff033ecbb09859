// Benchmark dispatcher: `npm run bench -- <name> [options]` runs
// `node --experimental-strip-types bench/run.ts <name> ...`. Node only strips types, and the code under
// test imports with `.js` specifiers (NodeNext), so this file bundles bench/<name>.ts with esbuild into
// .tmp/bench/ (inside the repo, so node_modules resolve) and imports that. Progress goes to stderr; the
// report the benchmark returns is printed as ONE JSON line, the last line on stdout.
// Only erasable TypeScript here (Node strips it): no enums, namespaces or parameter properties.

import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

interface BenchContext {
  readonly repoRoot: string;
  readonly workDir: string;
  readonly args: readonly string[];
  readonly progress: (message: string) => void;
}

interface BenchModule {
  run(context: BenchContext): Promise<unknown>;
}

const BENCHES: readonly string[] = ['sframe', 'recorder', 'consent', 'seal', 'playback', 'lifecycle'];

const repoRoot = dirname(dirname(fileURLToPath(import.meta.url)));
const [name, ...args] = process.argv.slice(2);

function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

if (name === undefined || !BENCHES.includes(name)) {
  process.stderr.write(`usage: npm run bench -- <${BENCHES.join('|')}> [options]\n`);
  process.exit(2);
}

const workDir = join(repoRoot, '.tmp', 'bench');
await mkdir(workDir, { recursive: true });
const outfile = join(workDir, `${name}.mjs`);
await build({
  entryPoints: [join(repoRoot, 'bench', `${name}.ts`)],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  packages: 'external',
  outfile,
  logLevel: 'warning',
});
const bench = (await import(pathToFileURL(outfile).href)) as BenchModule;
const report = await bench.run({ repoRoot, workDir, args, progress });
process.stdout.write(`${JSON.stringify(report)}\n`);

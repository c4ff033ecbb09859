// SFrame benchmark: our SFrameSender/SFrameReceiver (suite 0x0004) against raw WebCrypto AES-128-GCM on
// the same data, and against the least any RFC 9605 frame costs on top of it (the "floor", see
// browser/sframe-measure.ts), for 1,200-byte (audio/small video) and 60,000-byte (video key frame) frames,
// encrypt and decrypt, in Node and in a Chromium dedicated worker. Run it with `npm run bench -- sframe`
// (bench/run.ts bundles this file and prints the returned report as the last stdout line).
// Options: --case-ms=<ms per case, default 2000> --depth=<operations in flight, default 4>
//          --runtimes=node,chromium (default both).

import { writeFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';
import { launchChromium } from '../devstack/chromium.js';
import { startStaticServer } from '../devstack/static-server.js';
import { measureSFrame, type CaseResult, type MeasureOptions } from './browser/sframe-measure.js';
import type { WorkerReply, WorkerRequest } from './browser/sframe-worker.js';
import { numberArg } from './support/args.js';

export interface BenchContext {
  readonly repoRoot: string;
  readonly workDir: string;
  readonly args: readonly string[];
  readonly progress: (message: string) => void;
}

export interface SFrameBenchReport {
  bench: 'sframe';
  /** Lowest ours/raw ratio over the cases. */
  ratio_min: number;
  /** Lowest ours/floor ratio over the cases: what this library costs beyond the wire format. */
  ratio_to_floor_min: number;
  cases: CaseResult[];
}

const FRAME_SIZES = [1200, 60_000];
const BROWSER_TIMEOUT_MS = 180_000;

async function measureInChromium(context: BenchContext, options: MeasureOptions): Promise<CaseResult[]> {
  const webDir = join(context.workDir, 'sframe-web');
  await rm(webDir, { recursive: true, force: true });
  await mkdir(webDir, { recursive: true });
  await build({
    entryPoints: [join(context.repoRoot, 'bench/browser/sframe-worker.ts')],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2023',
    outfile: join(webDir, 'sframe-worker.js'),
    logLevel: 'warning',
  });
  await writeFile(join(webDir, 'index.html'), '<!doctype html><meta charset="utf-8"><title>sframe bench</title>\n');

  // http://127.0.0.1 is a secure context, which crypto.subtle requires.
  const server = await startStaticServer(webDir);
  const chromium = await launchChromium();
  try {
    const page = await chromium.browser.newPage();
    await page.goto(`${server.url}/index.html`);
    context.progress(`chromium ${await chromium.browser.version()}: measuring in a dedicated worker`);
    const request: WorkerRequest = { kind: 'run', options };
    const reply = await page.evaluate(
      (message: WorkerRequest, timeoutMs: number) =>
        new Promise<WorkerReply>((resolve) => {
          const worker = new Worker('/sframe-worker.js');
          const timer = setTimeout(() => resolve({ kind: 'error', message: 'worker timed out' }), timeoutMs);
          worker.onmessage = (event: MessageEvent<WorkerReply>) => {
            clearTimeout(timer);
            worker.terminate();
            resolve(event.data);
          };
          worker.onerror = (event) => {
            clearTimeout(timer);
            resolve({ kind: 'error', message: `worker error: ${event.message}` });
          };
          worker.postMessage(message);
        }),
      request,
      BROWSER_TIMEOUT_MS,
    );
    if (reply.kind === 'error') throw new Error(`chromium worker: ${reply.message}`);
    return reply.results;
  } finally {
    await chromium.close();
    await server.close();
  }
}

export async function run(context: BenchContext): Promise<SFrameBenchReport> {
  const caseMs = numberArg(context.args, 'case-ms', 2000, 1);
  const depth = numberArg(context.args, 'depth', 4, 1);
  const describe = (c: CaseResult) =>
    `${c.runtime} ${c.op} ${c.size} B: ours ${c.ours_mibps} MiB/s, raw ${c.raw_mibps} MiB/s, floor ${c.floor_mibps} MiB/s;` +
    ` ours/raw ${c.ratio}, ours/floor ${c.ratio_to_floor} (${c.rounds} rounds)`;

  const runtimes = (context.args.find((arg) => arg.startsWith('--runtimes='))?.slice('--runtimes='.length) ?? 'node,chromium').split(',');
  for (const runtime of runtimes) {
    if (runtime !== 'node' && runtime !== 'chromium') throw new RangeError(`--runtimes: unknown runtime ${runtime} (node, chromium)`);
  }
  const cases: CaseResult[] = [];
  if (runtimes.includes('node')) {
    context.progress(`node ${process.version}: measuring (${caseMs} ms per case, ${depth} in flight)`);
    const nodeCases = await measureSFrame({ runtime: 'node', sizes: FRAME_SIZES, caseMs, depth });
    nodeCases.forEach((c) => context.progress(describe(c)));
    cases.push(...nodeCases);
  }
  if (runtimes.includes('chromium')) {
    const browserCases = await measureInChromium(context, { runtime: 'chromium-worker', sizes: FRAME_SIZES, caseMs, depth });
    browserCases.forEach((c) => context.progress(describe(c)));
    cases.push(...browserCases);
  }
  return {
    bench: 'sframe',
    ratio_min: Math.min(...cases.map((c) => c.ratio)),
    ratio_to_floor_min: Math.min(...cases.map((c) => c.ratio_to_floor)),
    cases,
  };
}

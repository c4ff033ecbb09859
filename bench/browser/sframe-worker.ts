// Dedicated-worker entry for the SFrame benchmark in Chromium: one request in, one reply out.
// Bundled by bench/sframe.ts; the page that starts it is created there too.

import { measureSFrame, type CaseResult, type MeasureOptions } from './sframe-measure.js';

export type WorkerRequest = { kind: 'run'; options: MeasureOptions };
export type WorkerReply = { kind: 'results'; results: CaseResult[] } | { kind: 'error'; message: string };

globalThis.addEventListener('message', (event: MessageEvent<WorkerRequest>) => {
  if (event.data?.kind !== 'run') return;
  measureSFrame(event.data.options).then(
    (results) => globalThis.postMessage({ kind: 'results', results } satisfies WorkerReply),
    (error: unknown) => globalThis.postMessage({ kind: 'error', message: String(error) } satisfies WorkerReply),
  );
});

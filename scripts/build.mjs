// Bundles with esbuild. Browser: the reference room page, its media worker, and test pages → dist/web/.
// Node: runnable entry points (the demo, the key service) → dist/node/, npm packages left external.
// Sources are TypeScript with `.js` import specifiers; esbuild resolves them.
import { build } from 'esbuild';
import { cp, mkdir } from 'node:fs/promises';

const web = 'dist/web';
await mkdir(`${web}/test`, { recursive: true });
await mkdir(`${web}/recorder`, { recursive: true });
const browser = { bundle: true, format: 'iife', target: 'chrome130', sourcemap: 'linked', logLevel: 'warning', legalComments: 'none' };
const node = { bundle: true, format: 'esm', platform: 'node', target: 'node24', packages: 'external', sourcemap: 'linked', logLevel: 'warning' };
await Promise.all([
  build({ ...browser, entryPoints: ['room/main.ts'], outfile: `${web}/room.js` }),
  build({ ...browser, entryPoints: ['e2ee/transform/worker/media-worker.ts'], outfile: `${web}/media-worker.js` }),
  build({ ...browser, entryPoints: ['test/fixtures/outsider/outsider.ts'], outfile: `${web}/test/outsider.js` }),
  build({ ...browser, entryPoints: ['test/fixtures/outsider/outsider-worker.ts'], outfile: `${web}/test/outsider-worker.js` }),
  build({ ...browser, entryPoints: ['bot/page/recorder-page.ts'], outfile: `${web}/recorder/recorder-page.js` }),
  build({ ...browser, entryPoints: ['bot/page/recorder-worker.ts'], outfile: `${web}/recorder/recorder-worker.js` }),
  build({ ...node, entryPoints: ['demo/two-party-call.ts'], outfile: 'dist/node/demo.mjs' }),
  build({ ...node, entryPoints: ['bot/main.ts'], outfile: 'dist/node/recorder.mjs' }),
  build({ ...node, entryPoints: ['cli/chaperone.ts'], outfile: 'dist/node/chaperone.mjs' }),
  build({ ...node, entryPoints: ['deploy/keyservice.ts'], outfile: 'dist/node/keyservice.mjs' }),
  build({ ...node, entryPoints: ['queue/main.ts'], outfile: 'dist/node/pipeline.mjs' }),
  build({ ...node, entryPoints: ['deploy/migrate.ts'], outfile: 'dist/node/migrate.mjs' }),
  build({ ...node, entryPoints: ['records/main.ts'], outfile: 'dist/node/records.mjs' }),
  build({ ...node, entryPoints: ['records/lifecycle/main.ts'], outfile: 'dist/node/lifecycle.mjs' }),
]);
// Bundled Node entries resolve db/migrations next to themselves (db/migrate.ts uses import.meta.url).
await cp('db/migrations', 'dist/node/migrations', { recursive: true });
await cp('room/index.html', `${web}/index.html`);
await cp('room/room.css', `${web}/room.css`);
await cp('bot/page/index.html', `${web}/recorder/index.html`);
await cp('test/fixtures/outsider/outsider.html', `${web}/test/outsider.html`);

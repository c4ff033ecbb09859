import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';

/**
 * Debian's Chromium through puppeteer-core, with one explicit flag list (harness.md): headless, as root,
 * no background networking (this machine has no network to reach), and for synthetic participants a fake
 * camera and microphone fed from files.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const BASE_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
  '--autoplay-policy=no-user-gesture-required',
];

export interface ChromiumOptions {
  /** y4m file played as the camera. */
  fakeVideoFile?: string;
  /** wav file played as the microphone. */
  fakeAudioFile?: string;
  extraFlags?: string[];
}

export interface LaunchedChromium {
  browser: Browser;
  close(): Promise<void>;
}

export async function launchChromium(options: ChromiumOptions = {}): Promise<LaunchedChromium> {
  const userDataDir = await mkdtemp(join(tmpdir(), 'chaperone-chromium-'));
  const flags = [...BASE_FLAGS, `--user-data-dir=${userDataDir}`, ...(options.extraFlags ?? [])];
  if (options.fakeVideoFile || options.fakeAudioFile) {
    flags.push('--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream');
    if (options.fakeVideoFile) flags.push(`--use-file-for-fake-video-capture=${options.fakeVideoFile}`);
    if (options.fakeAudioFile) flags.push(`--use-file-for-fake-audio-capture=${options.fakeAudioFile}`);
  }
  const browser = await puppeteer.launch({ executablePath: CHROMIUM_PATH, headless: true, args: flags });
  return {
    browser,
    async close() {
      await browser.close().catch(() => undefined);
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}

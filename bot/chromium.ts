import { statfsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';

/**
 * Debian's Chromium through puppeteer-core, with one explicit flag list (harness.md): headless, no
 * background networking (nothing to reach, and no stray connections), no GPU, a fresh profile per launch.
 * Used by the recorder and, with a fake camera and microphone, by synthetic participants.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Chromium keeps its shared memory (renderer ↔ browser buffers, media) in /dev/shm. A container's default
 * /dev/shm is 64 MiB, too small: renderers crash. Where /dev/shm is sized (the chart mounts a memory
 * emptyDir, recorder.shmSizeMi) Chromium uses it; only where it is small does --disable-dev-shm-usage move
 * that memory to /tmp instead.
 */
export const MIN_DEV_SHM_BYTES = 512 * 1024 * 1024;

function devShmFlags(): string[] {
  try {
    const fs = statfsSync('/dev/shm');
    return fs.blocks * fs.bsize >= MIN_DEV_SHM_BYTES ? [] : ['--disable-dev-shm-usage'];
  } catch {
    return ['--disable-dev-shm-usage'];
  }
}

export const CHROMIUM_FLAGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  ...devShmFlags(),
  '--autoplay-policy=no-user-gesture-required',
  // A hidden page must keep receiving and transforming media at full rate.
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
];

export interface LaunchedChromium {
  browser: Browser;
  close(): Promise<void>;
}

export interface LaunchOptions {
  /**
   * Whether puppeteer enables CDP's Network domain on every page (default true). The recorder turns it
   * off: with it on, every WebSocket message a page sends — each decrypted frame — is copied into a
   * DevTools event (binary payloads base64-encoded) and parsed by puppeteer in the recorder's Node process,
   * which cost more CPU than muxing the frames. Nothing of the recorder uses network events.
   */
  networkEvents?: boolean;
  /**
   * Whether puppeteer closes the browser itself on SIGINT, SIGTERM and SIGHUP (default true). The
   * recorder turns it off: its own SIGTERM handler finishes each recording — final frames, final counts,
   * a deliberate leave — which needs the browser; puppeteer's handler killed it at once.
   */
  closeOnSignals?: boolean;
}

export async function launchChromium(extraFlags: string[] = [], options: LaunchOptions = {}): Promise<LaunchedChromium> {
  const userDataDir = await mkdtemp(join(tmpdir(), 'chaperone-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_FLAGS, `--user-data-dir=${userDataDir}`, ...extraFlags],
    networkEnabled: options.networkEvents ?? true,
    handleSIGINT: options.closeOnSignals ?? true,
    handleSIGTERM: options.closeOnSignals ?? true,
    handleSIGHUP: options.closeOnSignals ?? true,
  });
  return {
    browser,
    async close() {
      await browser.close().catch(() => undefined);
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}

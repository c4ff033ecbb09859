import type { Browser } from 'puppeteer-core';
import { launchChromium, type LaunchedChromium } from './chromium.js';

/**
 * The one Chromium of a recorder process. Each call gets its own browser context from it, so a failure in
 * one call cannot touch another. If the browser dies, the next `get()` launches a new one and every call
 * that was using it is told, so it can rejoin.
 */
export class RecorderBrowser {
  private current: Promise<LaunchedChromium> | undefined;
  private readonly crashListeners = new Set<() => void>();
  private closing = false;

  async get(): Promise<Browser> {
    if (this.closing) throw new Error('recorder browser is shutting down');
    if (!this.current) {
      const launching = launchChromium([], { networkEvents: false, closeOnSignals: false });
      this.current = launching;
      launching.then(
        (launched) =>
          launched.browser.once('disconnected', () => {
            if (this.current === launching) this.current = undefined;
            if (!this.closing) this.crashListeners.forEach((listener) => listener());
          }),
        () => {
          if (this.current === launching) this.current = undefined;
        },
      );
    }
    return (await this.current).browser;
  }

  /** Called when the browser process goes away while in use. */
  onCrash(listener: () => void): () => void {
    this.crashListeners.add(listener);
    return () => this.crashListeners.delete(listener);
  }

  /** The browser's process id (for crash tests and CPU accounting). */
  async pid(): Promise<number | undefined> {
    return this.current ? (await this.current).browser.process()?.pid : undefined;
  }

  async close(): Promise<void> {
    this.closing = true;
    const current = this.current;
    this.current = undefined;
    if (current) await (await current.catch(() => undefined))?.close();
  }
}

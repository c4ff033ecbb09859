import { launchChromium as launch, type LaunchedChromium } from '../bot/chromium.js';

/** Chromium for a synthetic participant: the recorder's flag list plus a fake camera and microphone fed from files. */
export type { LaunchedChromium };
export { CHROMIUM_PATH } from '../bot/chromium.js';

export interface ChromiumOptions {
  /** y4m file played as the camera. */
  fakeVideoFile?: string;
  /** wav file played as the microphone. */
  fakeAudioFile?: string;
  extraFlags?: string[];
}

export function launchChromium(options: ChromiumOptions = {}): Promise<LaunchedChromium> {
  const flags = [...(options.extraFlags ?? [])];
  if (options.fakeVideoFile || options.fakeAudioFile) {
    flags.push('--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream');
    if (options.fakeVideoFile) flags.push(`--use-file-for-fake-video-capture=${options.fakeVideoFile}`);
    if (options.fakeAudioFile) flags.push(`--use-file-for-fake-audio-capture=${options.fakeAudioFile}`);
  }
  return launch(flags);
}

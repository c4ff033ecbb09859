import { createRecorderPageApi } from '../../bot/page/recorder-session.js';

/**
 * The naive recorder bench/recorder.ts compares against: the same visible MLS member and the same
 * decryption, but each decrypted track is decoded by Chromium and re-encoded with MediaRecorder, as a
 * recorder that does not stream-copy must. Encoded chunks are counted and dropped.
 */
declare global {
  interface Window {
    chaperoneRecorder: ReturnType<typeof createRecorderPageApi>;
    baselineBytes: number;
  }
}

window.baselineBytes = 0;
window.chaperoneRecorder = createRecorderPageApi({
  onTrack(track, kind) {
    const recorder = new MediaRecorder(new MediaStream([track]), {
      mimeType: kind === 'video' ? 'video/webm;codecs=vp8' : 'audio/webm;codecs=opus',
    });
    recorder.ondataavailable = (event) => {
      window.baselineBytes += event.data.size;
    };
    recorder.start(1000);
    track.addEventListener('ended', () => recorder.state !== 'inactive' && recorder.stop());
  },
});

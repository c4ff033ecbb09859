/**
 * A 16x16 black VP8 key frame (31 bytes, made once with libvpx). The recorder hands it to Chromium's
 * decoder in place of every decrypted video frame, after the real frame has left the page. Dropping frames
 * instead makes the receiver fire key-frame requests (PLI) at the senders — about 60 in 25 s, degrading
 * the call for everyone — and decoding the real frames costs CPU for nothing (harness.md). With this
 * stand-in the decoder is content: no PLIs, and decoding 16x16 is nearly free.
 */
export const TINY_VP8_KEY_FRAME = Uint8Array.from([
  0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x10, 0x00, 0x10, 0x00, 0x00, 0x47, 0x08, 0x85, 0x85, 0x88, 0x85, 0x84, 0x88, 0x02,
  0x02, 0x00, 0x0c, 0x0d, 0x60, 0x00, 0xfe, 0xff, 0xab, 0x50, 0x80,
]);

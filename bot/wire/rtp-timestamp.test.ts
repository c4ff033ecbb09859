import { rtpTimestampIsNewer } from './rtp-timestamp.js';

test('a later timestamp is newer, an equal or earlier one is not', () => {
  expect(rtpTimestampIsNewer(3000, 0)).toBe(true);
  expect(rtpTimestampIsNewer(0, 3000)).toBe(false);
  expect(rtpTimestampIsNewer(3000, 3000)).toBe(false);
});

test('newer across the 32-bit wrap', () => {
  expect(rtpTimestampIsNewer(1500, 0xffff_fa00)).toBe(true);
  expect(rtpTimestampIsNewer(0xffff_fa00, 1500)).toBe(false);
});

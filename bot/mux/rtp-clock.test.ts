import { RtpClock } from './rtp-clock.js';

test('RTP timestamps unwrap across the 32-bit wrap and keep reordered frames in place', () => {
  const clock = new RtpClock();
  expect(clock.unwrap(0xffff_ff00)).toBe(0n);
  expect(clock.unwrap(0xffff_ffff)).toBe(0xffn);
  expect(clock.unwrap(0x0000_0100)).toBe(0x200n); // wrapped forward
  expect(clock.unwrap(0xffff_fff0)).toBe(0xf0n); // a late frame from before the wrap
  expect(clock.unwrap(0x0000_0200)).toBe(0x300n);
});

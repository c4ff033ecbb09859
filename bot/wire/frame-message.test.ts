import { FRAME_HEADER_BYTES, FrameBatchWriter, decodeFrameBatch, type FrameMessage } from './frame-message.js';

function frame(streamNumber: number, size: number, overrides: Partial<FrameMessage> = {}): FrameMessage {
  return {
    kind: 'video',
    keyFrame: streamNumber === 1,
    epochBits: 3,
    streamNumber,
    rtpTimestamp: 0xffff_fff0 + streamNumber,
    senderLeafIndex: 2,
    receivedAtMs: 1_763_000_000_123.5,
    payload: Uint8Array.from({ length: size }, (_, i) => (i * 7 + streamNumber) & 0xff),
    ...overrides,
  };
}

test('a batch carries several frames back to back and reads back field for field', () => {
  const writer = new FrameBatchWriter(64); // small, so adding grows the buffer
  const frames = [frame(1, 100), frame(2, 0, { kind: 'audio' }), frame(3, 5000)];
  frames.forEach((f) => writer.add(f));
  expect(writer.frames).toBe(3);
  const bytes = writer.take().slice();
  expect(bytes.length).toBe(3 * FRAME_HEADER_BYTES + 5100);
  const decoded = decodeFrameBatch(bytes);
  expect(decoded.error).toBeUndefined();
  expect(decoded.frames).toEqual(frames);
  expect(writer.frames).toBe(0);
});

test('the buffer is reused after take(): the next batch holds only its own frames', () => {
  const writer = new FrameBatchWriter();
  writer.add(frame(1, 10));
  writer.take();
  writer.add(frame(2, 20));
  expect(decodeFrameBatch(writer.take()).frames.map((f) => f.streamNumber)).toEqual([2]);
});

test('a truncated record is reported by code, with the records before it kept', () => {
  const writer = new FrameBatchWriter();
  writer.add(frame(1, 10));
  writer.add(frame(2, 10));
  const bytes = writer.take();
  const cut = decodeFrameBatch(bytes.subarray(0, bytes.length - 4));
  expect(cut.frames.map((f) => f.streamNumber)).toEqual([1]);
  expect(cut.error?.code).toBe('bad-length');
  expect(decodeFrameBatch(bytes.subarray(0, FRAME_HEADER_BYTES + 10 + 5)).error?.code).toBe('truncated');
});

test('a record of another version stops the batch with bad-version', () => {
  const writer = new FrameBatchWriter();
  writer.add(frame(1, 4));
  const bytes = writer.take().slice();
  bytes[0] = 9;
  expect(decodeFrameBatch(bytes)).toEqual({ frames: [], error: { code: 'bad-version', detail: 'version 9' } });
});

/**
 * Ogg encapsulation of Opus packets (RFC 7845), written by hand so encoded Opus from the call can reach
 * ffmpeg without being decoded: an identification header (OpusHead), a comment header (OpusTags), then
 * one audio packet per page. The granule position of a page is the 48 kHz sample position at the end of
 * its packet (RFC 7845 §4), taken from the RTP timestamps — so silences the sender did not transmit (DTX)
 * stay as gaps in time, not squeezed out.
 */

export const OPUS_CLOCK_HZ = 48_000;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let j = 0; j < 8; j++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    table[i] = r >>> 0;
  }
  return table;
})();

/** The Ogg page checksum: CRC-32, polynomial 0x04c11db7, no reflection, initial value 0 (RFC 3533 §6). */
function oggCrc(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) & 0xff) ^ byte]!) >>> 0;
  return crc >>> 0;
}

export class OggOpusWriter {
  private sequence = 0;
  private readonly serial: number;

  constructor(serial = 0x43686170) {
    this.serial = serial >>> 0;
  }

  /** OpusHead (RFC 7845 §5.1) and OpusTags (§5.2) pages. Pre-skip 0: the packets are already in flight. */
  headers(channels = 2): Uint8Array[] {
    const head = new Uint8Array(19);
    const view = new DataView(head.buffer);
    head.set(new TextEncoder().encode('OpusHead'), 0);
    head[8] = 1; // version
    head[9] = channels;
    view.setUint16(10, 0, true); // pre-skip
    view.setUint32(12, OPUS_CLOCK_HZ, true); // input sample rate (informational)
    view.setInt16(16, 0, true); // output gain
    head[18] = 0; // channel mapping family 0
    const vendor = new TextEncoder().encode('chaperone');
    const tags = new Uint8Array(8 + 4 + vendor.length + 4);
    const tagsView = new DataView(tags.buffer);
    tags.set(new TextEncoder().encode('OpusTags'), 0);
    tagsView.setUint32(8, vendor.length, true);
    tags.set(vendor, 12);
    tagsView.setUint32(12 + vendor.length, 0, true);
    return [this.page(head, 0n, 0x02), this.page(tags, 0n, 0)];
  }

  /** One audio packet on its own page, ending at `granule` (48 kHz samples since the stream's origin). */
  packet(packet: Uint8Array, granule: bigint, last = false): Uint8Array {
    return this.page(packet, granule, last ? 0x04 : 0);
  }

  private page(packet: Uint8Array, granule: bigint, headerType: number): Uint8Array {
    const segments: number[] = [];
    let remaining = packet.length;
    while (remaining >= 255) {
      segments.push(255);
      remaining -= 255;
    }
    segments.push(remaining);
    if (segments.length > 255) throw new RangeError('Opus packet too large for one Ogg page');
    const page = new Uint8Array(27 + segments.length + packet.length);
    const view = new DataView(page.buffer);
    page.set([0x4f, 0x67, 0x67, 0x53], 0); // "OggS"
    page[4] = 0; // version
    page[5] = headerType;
    view.setBigInt64(6, granule, true);
    view.setUint32(14, this.serial, true);
    view.setUint32(18, this.sequence++, true);
    view.setUint32(22, 0, true); // checksum placeholder
    page[26] = segments.length;
    page.set(segments, 27);
    page.set(packet, 27 + segments.length);
    view.setUint32(22, oggCrc(page), true);
    return page;
  }
}

/** Samples (at 48 kHz) in one Opus packet, from its TOC byte (RFC 6716 §3.1). */
export function opusPacketSamples(packet: Uint8Array): number {
  if (packet.length === 0) return 0;
  const toc = packet[0]!;
  const config = toc >> 3;
  let frameSamples: number;
  if (config < 12) frameSamples = [480, 960, 1920, 2880][config % 4]!; // SILK: 10, 20, 40, 60 ms
  else if (config < 16) frameSamples = [480, 960][config % 2]!; // hybrid: 10, 20 ms
  else frameSamples = [120, 240, 480, 960][config % 4]!; // CELT: 2.5, 5, 10, 20 ms
  const code = toc & 0x03;
  const frames = code === 0 ? 1 : code === 3 ? (packet.length > 1 ? packet[1]! & 0x3f : 0) : 2;
  return frameSamples * frames;
}

/** Channel count signalled by the TOC's stereo bit (RFC 6716 §3.1). */
export function opusPacketChannels(packet: Uint8Array): 1 | 2 {
  return packet.length > 0 && (packet[0]! & 0x04) !== 0 ? 2 : 1;
}

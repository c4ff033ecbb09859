import { parseRange } from './http-range.js';

describe('parseRange', () => {
  test('single ranges: closed, open, suffix; clipped to the size', () => {
    expect(parseRange('bytes=0-99', 1000)).toEqual({ kind: 'partial', start: 0, end: 99 });
    expect(parseRange('bytes=500-', 1000)).toEqual({ kind: 'partial', start: 500, end: 999 });
    expect(parseRange('bytes=-100', 1000)).toEqual({ kind: 'partial', start: 900, end: 999 });
    expect(parseRange('bytes=-5000', 1000)).toEqual({ kind: 'partial', start: 0, end: 999 });
    expect(parseRange('bytes=990-5000', 1000)).toEqual({ kind: 'partial', start: 990, end: 999 });
  });

  test('unsatisfiable: starting at or past the end, or an empty suffix', () => {
    expect(parseRange('bytes=1000-', 1000)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=-0', 1000)).toEqual({ kind: 'unsatisfiable' });
  });

  test('what it does not understand is ignored: the whole representation is sent', () => {
    for (const header of [undefined, 'items=0-1', 'bytes=0-1,5-9', 'bytes=9-1', 'bytes=a-b', 'bytes=-']) expect(parseRange(header, 1000)).toEqual({ kind: 'whole' });
  });
});

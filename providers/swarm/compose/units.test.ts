import { describe, expect, it } from 'vitest';
import { canonicalBytes, canonicalDuration, formatDuration, parseBytes, parseDuration } from './units.ts';

describe('durations', () => {
  it.each([
    // [written, nanoseconds, canonical]: each spelling of one duration has one canonical form
    ['90s', 90e9, '1m30s'],
    ['1m30s', 90e9, '1m30s'],
    ['500ms', 5e8, '500ms'],
    ['1.5s', 1.5e9, '1.5s'],
    ['2h', 7200e9, '2h0m0s'],
    ['10', 10e9, '10s'],
    ['0s', 0, '0s'],
  ])('%s is %d ns, written %s', (text, ns, canonical) => {
    expect(parseDuration(text)).toBe(ns);
    expect(canonicalDuration(text)).toBe(canonical);
    expect(formatDuration(ns)).toBe(canonical);
  });

  it('refuses what is not a duration', () => {
    expect(() => parseDuration('5 minutes')).toThrow(/is not a duration/);
  });
});

describe('sizes', () => {
  it.each([
    // Docker reads k/m/g as binary units, as Compose does
    ['512M', 512 * 1024 ** 2, '512M'],
    ['512m', 512 * 1024 ** 2, '512M'],
    ['1g', 1024 ** 3, '1G'],
    ['1024M', 1024 ** 3, '1G'],
    ['1.5GiB', 1.5 * 1024 ** 3, '1536M'],
    ['1000', 1000, '1000'],
    ['0', 0, '0'],
  ])('%s is %d bytes, written %s', (text, bytes, canonical) => {
    expect(parseBytes(text)).toBe(bytes);
    expect(canonicalBytes(text)).toBe(canonical);
  });

  it('refuses an unknown unit', () => {
    expect(() => parseBytes('12 parsecs')).toThrow(/is not a size/);
  });
});

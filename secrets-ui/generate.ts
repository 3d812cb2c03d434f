import { randomInt } from 'node:crypto';

/** Alphabets a generated value can use. */
export const ALPHABETS = {
  alphanumeric: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789',
  hex: '0123456789abcdef',
  base64url: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_',
  printable: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&()*+,-./:;<=>?@[]^_{|}~',
} as const;

export type AlphabetName = keyof typeof ALPHABETS;

export const MIN_LENGTH = 16;
export const MAX_LENGTH = 256;

/** A uniformly random value (`crypto.randomInt`, no modulo bias) of `length` characters. */
export function generateValue(length: number, alphabet: AlphabetName): string {
  if (!Number.isInteger(length) || length < MIN_LENGTH || length > MAX_LENGTH)
    throw new RangeError(`length must be a whole number from ${MIN_LENGTH} to ${MAX_LENGTH}, got ${length}`);
  const chars = ALPHABETS[alphabet];
  let out = '';
  for (let i = 0; i < length; i++) out += chars[randomInt(chars.length)];
  return out;
}

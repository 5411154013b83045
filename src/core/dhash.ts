/**
 * dHash (difference hash): the image shrunk to 9×8 grey pixels, one bit per horizontal neighbour pair
 * ("is the left one brighter?"). Re-encoding, resizing and mild recompression keep it within a few bits;
 * a different picture differs in about half of the 64. Hand-written because it is 15 lines on top of
 * sharp, which does the decoding and resampling.
 */
import sharp from 'sharp';
import type { LoadedImage } from '../contracts/request.js';
import { UserError } from '../errors.js';

/** 64-bit dHash as 16 hex digits. */
export async function dHash(image: LoadedImage): Promise<string> {
  let px: Buffer;
  try {
    px = await sharp(image.bytes, { failOn: 'error' })
      .rotate()
      .flatten({ background: '#ffffff' })
      .greyscale()
      .resize(9, 8, { fit: 'fill', kernel: 'lanczos3' })
      .raw()
      .toBuffer();
  } catch (cause) {
    throw new UserError('bad_image', `${image.name}: the image data is corrupt or truncated`, { cause });
  }
  let bits = 0n;
  for (let y = 0; y < 8; y++) {
    for (let x = 0; x < 8; x++) {
      bits = (bits << 1n) | ((px[y * 9 + x] as number) > (px[y * 9 + x + 1] as number) ? 1n : 0n);
    }
  }
  return bits.toString(16).padStart(16, '0');
}

/** Bits in which two dHashes differ (0–64). */
export function hammingDistance(a: string, b: string): number {
  let x = BigInt(`0x${a}`) ^ BigInt(`0x${b}`);
  let n = 0;
  while (x) {
    n += Number(x & 1n);
    x >>= 1n;
  }
  return n;
}

/**
 * Media: every image iris reads goes through here (fetch → validate → resize for a model), and every
 * image it sends is encoded here (PNG, metadata stripped).
 *
 * Choices:
 * - Validation is cheap: magic bytes, then the header (our own parser for the pixel check, then sharp's
 *   metadata()). Pixels are decoded only by toRgb/encodePng, and every sharp call sets limitInputPixels.
 * - toRgb flattens transparency onto WHITE (as transformers' `convert_to_rgb` does before CLIP & co.);
 *   'contain' letterboxes with BLACK (the zero padding CLIPImageProcessor uses when a crop is larger).
 * - GIF and animated WebP: the first frame only.
 * - Corrupt means libvips reports an error (failOn: 'error'): truncated files fail, files with mere
 *   warnings (extraneous bytes that every browser shows fine) pass.
 */

import sharp, { type Metadata, type OutputInfo } from 'sharp';
import {
  DEFAULT_MEDIA_LIMITS,
  type FetchPolicy,
  type ImageFormat,
  type MediaLimits,
} from '../contracts/media.js';
import type { ImageRef, LoadedImage } from '../contracts/request.js';
import { UserError } from '../errors.js';
import { fetchImageBytes, formatList, notAnImage, tooLarge } from './media-fetch.js';

export { fetchImageBytes, formatMB } from './media-fetch.js';

export type Fit = 'cover' | 'fill' | 'contain';

/** Transparent pixels become this colour in toRgb. */
export const FLATTEN_BACKGROUND = { r: 255, g: 255, b: 255 } as const;
/** The bars 'contain' adds. */
export const LETTERBOX_BACKGROUND = { r: 0, g: 0, b: 0, alpha: 1 } as const;

// ---------------------------------------------------------------------------------------------
// Sniffing and header sizes (no decoding)

/** Formats iris can name but does not read. */
const OTHER_IMAGE_FORMATS = 'TIFF BMP SVG AVIF HEIC JPEG-XL ICO PSD JPEG-2000'.split(' ');
type Sniffed = ImageFormat | (typeof OTHER_IMAGE_FORMATS)[number];

const ascii = (b: Buffer, start: number, end: number) => b.toString('latin1', start, end);

export function sniffFormat(b: Buffer): Sniffed | null {
  if (b.length >= 8 && b.readUInt32BE(0) === 0x89504e47 && b.readUInt32BE(4) === 0x0d0a1a0a) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 6 && (ascii(b, 0, 6) === 'GIF87a' || ascii(b, 0, 6) === 'GIF89a')) return 'gif';
  if (b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WEBP') return 'webp';
  if (b.length >= 4 && (ascii(b, 0, 4) === 'II*\0' || ascii(b, 0, 4) === 'MM\0*')) return 'TIFF';
  if (b.length >= 2 && ascii(b, 0, 2) === 'BM') return 'BMP';
  if (b.length >= 12 && ascii(b, 4, 8) === 'ftyp') {
    const brand = ascii(b, 8, 12);
    if (brand === 'avif' || brand === 'avis') return 'AVIF';
    if (/^(heic|heix|hevc|hevx|heim|heis|mif1|msf1)$/.test(brand)) return 'HEIC';
  }
  if (b.length >= 2 && b[0] === 0xff && b[1] === 0x0a) return 'JPEG-XL';
  if (b.length >= 12 && b.readUInt32BE(0) === 0x0c && ascii(b, 4, 8) === 'JXL ') return 'JPEG-XL';
  if (b.length >= 12 && b.readUInt32BE(0) === 0x0c && ascii(b, 4, 8) === 'jP  ') return 'JPEG-2000';
  if (b.length >= 4 && b.readUInt32BE(0) === 0x00000100) return 'ICO';
  if (b.length >= 4 && ascii(b, 0, 4) === '8BPS') return 'PSD';
  const head = b
    .toString('utf8', 0, Math.min(b.length, 1024))
    .replace(/^\uFEFF/, '')
    .trimStart();
  if (/^(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*(<!DOCTYPE svg[^>]*>\s*)?<svg[\s>]/i.test(head)) return 'SVG';
  return null;
}

/** Width × height from the header (before EXIF rotation), or null when it cannot be read cheaply. */
export function headerSize(b: Buffer, format: ImageFormat): { width: number; height: number } | null {
  try {
    switch (format) {
      case 'png':
        return ascii(b, 12, 16) === 'IHDR' ? { width: b.readUInt32BE(16), height: b.readUInt32BE(20) } : null;
      case 'gif':
        return gifSize(b);
      case 'webp': {
        const chunk = ascii(b, 12, 16);
        if (chunk === 'VP8X') return { width: b.readUIntLE(24, 3) + 1, height: b.readUIntLE(27, 3) + 1 };
        if (chunk === 'VP8L') {
          const bits = b.readUInt32LE(21);
          return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
        }
        if (chunk === 'VP8 ')
          return { width: b.readUInt16LE(26) & 0x3fff, height: b.readUInt16LE(28) & 0x3fff };
        return null;
      }
      case 'jpeg': {
        let i = 2;
        while (i + 9 < b.length) {
          if (b[i] !== 0xff) return null;
          const marker = b[i + 1] as number;
          if (marker === 0xff) {
            i++; // fill byte
            continue;
          }
          if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
            i += 2;
            continue;
          }
          if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
            return { width: b.readUInt16BE(i + 7), height: b.readUInt16BE(i + 5) };
          }
          if (marker === 0xda || marker === 0xd9) return null;
          i += 2 + b.readUInt16BE(i + 2);
        }
        return null;
      }
    }
  } catch {
    return null; // RangeError: header cut short
  }
}

/**
 * A GIF's first frame may be larger than its logical screen, or placed past its edge; libvips decodes
 * the union of both. Walks the extension blocks to the first image descriptor; null when there is none.
 */
function gifSize(b: Buffer): { width: number; height: number } | null {
  const flags = b[10] as number;
  let i = 13 + (flags & 0x80 ? 3 * 2 ** ((flags & 7) + 1) : 0);
  while (i < b.length && b[i] === 0x21) {
    i += 2; // introducer and label, then data sub-blocks up to an empty one
    while (i < b.length && b[i] !== 0) i += (b[i] as number) + 1;
    i += 1;
  }
  if (b[i] !== 0x2c) return null;
  return {
    width: Math.max(b.readUInt16LE(6), b.readUInt16LE(i + 1) + b.readUInt16LE(i + 5)),
    height: Math.max(b.readUInt16LE(8), b.readUInt16LE(i + 3) + b.readUInt16LE(i + 7)),
  };
}

// ---------------------------------------------------------------------------------------------
// Validation

function tooManyPixels(name: string, size: { width: number; height: number } | null, max: number) {
  const count = (n: number) => (n >= 100_000 ? `${Math.round(n / 1e5) / 10} megapixels` : `${n} pixels`);
  if (!size)
    return new UserError('image_too_large', `${name} has more pixels than the limit of ${count(max)}.`);
  const total = size.width * size.height;
  const mp = total >= 100_000 ? ` (${count(total)})` : '';
  return new UserError(
    'image_too_large',
    `${name} is ${size.width}×${size.height} pixels${mp}; the limit is ${count(max)}.`,
  );
}

const corrupt = (name: string, cause?: unknown) =>
  new UserError('bad_image', `${name}: the image data is corrupt or truncated`, { cause });

const isPixelLimitError = (e: unknown) => e instanceof Error && /pixel limit/i.test(e.message);

/** Validate bytes → LoadedImage (format, width/height with EXIF orientation applied). Reads the header only. */
export async function loadImage(name: string, bytes: Buffer, limits: MediaLimits): Promise<LoadedImage> {
  if (bytes.length === 0) throw new UserError('bad_image', `${name} is empty.`);
  if (bytes.length > limits.maxBytes) throw tooLarge(name, bytes.length, limits.maxBytes);
  const sniffed = sniffFormat(bytes);
  if (sniffed === null) throw notAnImage(name, limits.formats);
  const format = sniffed as ImageFormat;
  if (!limits.formats.includes(format)) {
    const accepted = formatList(limits.formats);
    throw new UserError(
      'bad_image',
      `${name} is in ${formatList([sniffed])} format; iris accepts ${accepted}.`,
    );
  }
  const header = headerSize(bytes, format);
  if (header && header.width * header.height > limits.maxPixels) {
    throw tooManyPixels(name, header, limits.maxPixels);
  }
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: limits.maxPixels, failOn: 'error', pages: 1 }).metadata();
  } catch (cause) {
    if (isPixelLimitError(cause)) {
      // The header's size is what we could read cheaply; it is not the reason when it fits the limit.
      const fits = header && header.width * header.height <= limits.maxPixels;
      throw tooManyPixels(name, fits ? null : header, limits.maxPixels);
    }
    throw corrupt(name, cause);
  }
  if (meta.format !== format) throw corrupt(name);
  const { width, height } = meta.autoOrient ?? meta;
  if (!width || !height) throw corrupt(name);
  if (width * height > limits.maxPixels) throw tooManyPixels(name, { width, height }, limits.maxPixels);
  return { name, bytes, format, width, height };
}

/**
 * loadImage, then a decode of the first frame's pixels (into a thumbnail): a well-formed header over
 * broken or fake pixel data passes loadImage and fails here. For images kept only to be shown again.
 */
export async function verifyImage(name: string, bytes: Buffer, limits: MediaLimits): Promise<LoadedImage> {
  const image = await loadImage(name, bytes, limits);
  try {
    await sharp(bytes, {
      limitInputPixels: pixelLimit(image),
      failOn: 'error',
      sequentialRead: true,
      pages: 1,
    })
      .resize(32, 32, { fit: 'inside' })
      .raw()
      .toBuffer();
  } catch (cause) {
    throw corrupt(name, cause);
  }
  return image;
}

/** fetch + load in one step. */
export async function resolveImage(
  ref: ImageRef,
  limits: MediaLimits,
  policy: FetchPolicy,
  signal?: AbortSignal,
): Promise<LoadedImage> {
  return loadImage(ref.name, await fetchImageBytes(ref, limits, policy, signal), limits);
}

// ---------------------------------------------------------------------------------------------
// Decoding and encoding

/** limitInputPixels for images that already passed loadImage (whose limit may exceed the default). */
function pixelLimit(image: { width: number; height: number }): number {
  return Math.max(DEFAULT_MEDIA_LIMITS.maxPixels, image.width * image.height);
}

/**
 * Decode + EXIF orientation + resize → raw RGB, 3 channels, 8 bit, row-major. One sharp pipeline with
 * shrink-on-load (JPEG/WebP decode at reduced scale when the target is much smaller).
 * fit 'cover' = scale so the shortest edge fits, then centre crop (CLIP's resize-shortest-edge + centre
 * crop, bicubic); 'fill' = stretch; 'contain' = letterbox (black bars). Transparency → white.
 */
export async function toRgb(
  image: LoadedImage,
  size: { width: number; height: number; fit: Fit },
): Promise<{ data: Buffer; width: number; height: number }> {
  let out: { data: Buffer; info: OutputInfo };
  try {
    out = await sharp(image.bytes, {
      limitInputPixels: pixelLimit(image),
      failOn: 'error',
      sequentialRead: true,
      pages: 1,
    })
      .rotate()
      .resize(size.width, size.height, {
        fit: size.fit,
        position: 'centre',
        kernel: 'cubic',
        background: LETTERBOX_BACKGROUND,
      })
      .flatten({ background: FLATTEN_BACKGROUND })
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (cause) {
    throw corrupt(image.name, cause);
  }
  const { data, info } = out;
  if (info.channels !== 3 || data.length !== info.width * info.height * 3) {
    throw new Error(`toRgb: expected ${info.width}×${info.height}×3 bytes, got ${info.channels} channels`);
  }
  return { data, width: info.width, height: info.height };
}

/**
 * Encode raw RGB(A), or any image sharp reads, to PNG for replies. All metadata (EXIF, XMP, ICC, text)
 * is stripped; an encoded input is first turned upright by its EXIF orientation so stripping it does not
 * turn the picture sideways. Callers add PNG text chunks afterwards if they want them.
 */
export async function encodePng(
  input: Buffer | { data: Buffer; width: number; height: number; channels: 3 | 4 },
): Promise<Buffer> {
  if (Buffer.isBuffer(input)) {
    return sharp(input, { limitInputPixels: DEFAULT_MEDIA_LIMITS.maxPixels, failOn: 'error' })
      .rotate()
      .png()
      .toBuffer();
  }
  const { data, width, height, channels } = input;
  if (data.length !== width * height * channels) {
    throw new RangeError(`encodePng: ${data.length} bytes is not ${width}×${height}×${channels}`);
  }
  return sharp(data, { raw: { width, height, channels }, limitInputPixels: pixelLimit(input) })
    .png()
    .toBuffer();
}

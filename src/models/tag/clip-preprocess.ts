/**
 * CLIP image preprocessing as CLIPImageProcessor does it (preprocessor_config.json: resize, centre crop,
 * rescale, normalise), written straight into the batch tensor: decoding and resizing run in sharp (libuv
 * threads, shrink-on-load), the per-pixel normalisation is a lookup table.
 */

import type { LoadedImage } from '../../contracts/request.js';
import { toRgb } from '../../core/media.js';

export interface ClipPreprocess {
  /** Resize target: shortest edge, or an exact size. */
  resize: { shortestEdge: number } | { width: number; height: number } | null;
  crop: { width: number; height: number } | null;
  rescale: number;
  mean: [number, number, number];
  std: [number, number, number];
}

function triple(v: unknown, fallback: number): [number, number, number] {
  if (typeof v === 'number') return [v, v, v];
  if (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number')) {
    return v as [number, number, number];
  }
  return [fallback, fallback, fallback];
}

function hw(v: unknown): { width: number; height: number } | null {
  if (typeof v === 'number') return { width: v, height: v };
  if (v && typeof v === 'object') {
    const o = v as Record<string, number>;
    if (typeof o.height === 'number' && typeof o.width === 'number')
      return { width: o.width, height: o.height };
  }
  return null;
}

export function parsePreprocessorConfig(c: Record<string, unknown>): ClipPreprocess {
  let resize: ClipPreprocess['resize'] = null;
  if (c.do_resize !== false) {
    const size = c.size;
    if (typeof size === 'number') resize = { shortestEdge: size };
    else if (
      size &&
      typeof size === 'object' &&
      typeof (size as Record<string, unknown>).shortest_edge === 'number'
    ) {
      resize = { shortestEdge: (size as { shortest_edge: number }).shortest_edge };
    } else resize = hw(size) ?? { shortestEdge: 224 };
  }
  const crop = c.do_center_crop === false ? null : hw(c.crop_size ?? 224);
  const doNorm = c.do_normalize !== false;
  return {
    resize,
    crop,
    rescale: c.do_rescale === false ? 1 : typeof c.rescale_factor === 'number' ? c.rescale_factor : 1 / 255,
    mean: doNorm ? triple(c.image_mean, 0) : [0, 0, 0],
    std: doNorm ? triple(c.image_std, 1) : [1, 1, 1],
  };
}

/** Final tensor size for an image of the given size. */
export function outputSize(p: ClipPreprocess, w: number, h: number): { width: number; height: number } {
  if (p.crop) return p.crop;
  if (!p.resize) return { width: w, height: h };
  if ('shortestEdge' in p.resize) {
    const s = p.resize.shortestEdge / Math.min(w, h);
    return { width: Math.max(1, Math.round(w * s)), height: Math.max(1, Math.round(h * s)) };
  }
  return p.resize;
}

/**
 * Resize + centre crop + normalise one image into `out` (CHW, at `offset`). Shortest-edge resize
 * followed by a crop of the same size is sharp's 'cover' in one step (with shrink-on-load for JPEG).
 */
export async function preprocessInto(
  p: ClipPreprocess,
  lut: Float32Array,
  image: LoadedImage,
  out: Float32Array,
  offset: number,
): Promise<void> {
  const target = outputSize(p, image.width, image.height);
  let rgb: { data: Buffer; width: number; height: number };
  if (
    p.crop &&
    p.resize &&
    'shortestEdge' in p.resize &&
    p.resize.shortestEdge === Math.min(p.crop.width, p.crop.height) &&
    p.crop.width === p.crop.height
  ) {
    rgb = await toRgb(image, { width: p.crop.width, height: p.crop.height, fit: 'cover' });
  } else {
    const r = p.resize
      ? outputSize({ ...p, crop: null }, image.width, image.height)
      : { width: image.width, height: image.height };
    rgb = await toRgb(image, { width: r.width, height: r.height, fit: 'fill' });
  }
  const { width: W, height: H } = target;
  const plane = W * H;
  // centre crop (or zero-pad when the crop is larger), as CLIPImageProcessor does
  const x0 = Math.floor((rgb.width - W) / 2);
  const y0 = Math.floor((rgb.height - H) / 2);
  const src = rgb.data;
  for (let y = 0; y < H; y++) {
    const sy = y + y0;
    const row = y * W;
    if (sy < 0 || sy >= rgb.height) {
      for (let c = 0; c < 3; c++) out.fill(0, offset + c * plane + row, offset + c * plane + row + W);
      continue;
    }
    for (let x = 0; x < W; x++) {
      const sx = x + x0;
      const o = offset + row + x;
      if (sx < 0 || sx >= rgb.width) {
        out[o] = 0;
        out[o + plane] = 0;
        out[o + 2 * plane] = 0;
        continue;
      }
      const s = (sy * rgb.width + sx) * 3;
      out[o] = lut[src[s] as number] as number;
      out[o + plane] = lut[256 + (src[s + 1] as number)] as number;
      out[o + 2 * plane] = lut[512 + (src[s + 2] as number)] as number;
    }
  }
}

export function makeLut(p: ClipPreprocess): Float32Array {
  const lut = new Float32Array(768);
  for (let c = 0; c < 3; c++) {
    for (let v = 0; v < 256; v++)
      lut[c * 256 + v] = (v * p.rescale - (p.mean[c] as number)) / (p.std[c] as number);
  }
  return lut;
}

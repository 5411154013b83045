/**
 * Boxes drawn on an image (for /find and `iris find`): each box is an outline with a dark border (so it
 * shows on light and dark images alike) and its label on a filled tag in its top-left corner. The image
 * is decoded by media's `toRgb` (EXIF orientation, transparency onto white, corrupt files caught there)
 * and an SVG overlay is composited onto it with sharp → PNG at the image's own size.
 */
import sharp from 'sharp';
import type { LoadedImage } from '../contracts/request.js';
import { toRgb } from './media.js';

export interface LabelledBox {
  label: string;
  /** Image pixels: x1,y1 top left, x2,y2 bottom right. */
  box: { x1: number; y1: number; x2: number; y2: number };
}

/** Outline colours, one per box in turn: bright, and far from each other. */
export const BOX_COLOURS = ['#ffff00', '#00ffff', '#ff00ff', '#ff8000', '#ffffff'] as const;
const BORDER = '#000000';

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Line width for an image: about 1% of its shorter side, at least 2 px. */
export function strokeWidth(size: { width: number; height: number }): number {
  return Math.max(2, Math.round(Math.min(size.width, size.height) / 100));
}

/** The SVG overlay: outlines drawn inside each box's edges, a label tag at each box's top left. */
export function boxesSvg(size: { width: number; height: number }, boxes: readonly LabelledBox[]): string {
  const s = strokeWidth(size);
  const font = Math.max(10, Math.round(Math.min(size.width, size.height) / 25));
  const parts = boxes.map(({ label, box }, i) => {
    const colour = BOX_COLOURS[i % BOX_COLOURS.length];
    const w = Math.max(0, box.x2 - box.x1);
    const h = Math.max(0, box.y2 - box.y1);
    // The outline's centre line sits half a border + half a line inside the box, so nothing spills out.
    const inset = (k: number) =>
      `x="${box.x1 + k / 2}" y="${box.y1 + k / 2}" width="${Math.max(0, w - k)}" height="${Math.max(0, h - k)}"`;
    const tagWidth = Math.min(w, Math.ceil(font * 0.62 * label.length + font * 0.6));
    const tag = label
      ? `<rect x="${box.x1}" y="${box.y1}" width="${tagWidth}" height="${Math.round(font * 1.4)}" fill="${colour}"/>` +
        `<text x="${box.x1 + font * 0.3}" y="${box.y1 + font * 1.05}" font-family="DejaVu Sans, sans-serif" ` +
        `font-size="${font}" fill="${BORDER}">${escapeXml(label)}</text>`
      : '';
    return (
      `<rect ${inset(s + 2)} fill="none" stroke="${BORDER}" stroke-width="${s + 2}"/>` +
      `<rect ${inset(s + 2)} fill="none" stroke="${colour}" stroke-width="${s}"/>` +
      tag
    );
  });
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size.width}" height="${size.height}">` +
    `${parts.join('')}</svg>`
  );
}

/** Longest side of the drawn PNG: a chat upload, not an archive copy (a 12 MP photo would be ~20 MB). */
export const MAX_DRAWN_SIDE = 2048;

/**
 * The image with its boxes drawn on, as a PNG of the image's size — shrunk (boxes with it) so that its
 * longest side is at most `maxSide`.
 */
export async function drawBoxes(
  image: LoadedImage,
  boxes: readonly LabelledBox[],
  maxSide = MAX_DRAWN_SIDE,
): Promise<Buffer> {
  const scale = Math.min(1, maxSide / Math.max(image.width, image.height));
  const size = {
    width: Math.max(1, Math.round(image.width * scale)),
    height: Math.max(1, Math.round(image.height * scale)),
  };
  const rgb = await toRgb(image, { ...size, fit: 'fill' });
  const scaled = boxes.map(({ label, box }) => ({
    label,
    box: {
      x1: box.x1 * scale,
      y1: box.y1 * scale,
      x2: box.x2 * scale,
      y2: box.y2 * scale,
    },
  }));
  const overlay = Buffer.from(boxesSvg(rgb, scaled));
  return sharp(rgb.data, { raw: { width: rgb.width, height: rgb.height, channels: 3 } })
    .composite([{ input: overlay, top: 0, left: 0 }])
    .png()
    .toBuffer();
}

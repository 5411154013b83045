/**
 * PNG output for generated images: raw RGB → PNG (sharp, via media's encodePng) with the generation
 * parameters in text chunks, and cheap latent previews.
 *
 * Text chunks (written after IHDR, so every reader finds them before the pixels):
 * - `parameters` (iTXt, UTF-8): the line format AUTOMATIC1111 and most SD tools read:
 *   "<prompt>\nNegative prompt: <negative>\nSteps: 4, Sampler: Euler, CFG scale: 0, Seed: 7, Size: 512x512, Model: sd-turbo"
 * - `Software` (tEXt): "iris".
 * - `XML:com.adobe.xmp` (iTXt): provenance XMP (./provenance.ts): IPTC digital source type
 *   trainedAlgorithmicMedia, iris, the model id, the seed.
 */
import { crc32 } from 'node:zlib';
import { encodePng } from '../../core/media.js';
import { provenanceXmp, publicModelName, XMP_PNG_KEYWORD } from './provenance.js';

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/** iTXt: keyword \0 compression-flag(0) method(0) language \0 translated-keyword \0 UTF-8 text. */
function itxt(keyword: string, text: string): Buffer {
  return chunk(
    'iTXt',
    Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.from([0, 0, 0, 0, 0]), Buffer.from(text, 'utf8')]),
  );
}

function textChunk(keyword: string, text: string): Buffer {
  return chunk(
    'tEXt',
    Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.from([0]), Buffer.from(text, 'latin1')]),
  );
}

/**
 * Inserts text chunks right after IHDR (signature 8 bytes + IHDR 25 bytes): tEXt for printable ASCII,
 * else iTXt (UTF-8); keys in `utf8Keys` are always iTXt (XMP must be).
 */
export function withPngText(
  png: Buffer,
  entries: Record<string, string>,
  utf8Keys: readonly string[] = [],
): Buffer {
  const ihdrEnd = 8 + 8 + png.readUInt32BE(8) + 4;
  const chunks = Object.entries(entries).map(([k, v]) =>
    /^[\x20-\x7e]*$/.test(v) && !utf8Keys.includes(k) ? textChunk(k, v) : itxt(k, v),
  );
  return Buffer.concat([png.subarray(0, ihdrEnd), ...chunks, png.subarray(ihdrEnd)]);
}

/** Text chunks of a PNG (tEXt and uncompressed iTXt), for tests and tools. */
export function readPngText(png: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let at = 8;
  while (at + 8 <= png.length) {
    const len = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + len);
    if (type === 'tEXt') {
      const z = data.indexOf(0);
      out[data.toString('latin1', 0, z)] = data.toString('latin1', z + 1);
    } else if (type === 'iTXt') {
      const z = data.indexOf(0);
      const key = data.toString('latin1', 0, z);
      const langEnd = data.indexOf(0, z + 3);
      const transEnd = data.indexOf(0, langEnd + 1);
      if (data[z + 1] === 0) out[key] = data.toString('utf8', transEnd + 1);
    } else if (type === 'IEND') break;
    at += 12 + len;
  }
  return out;
}

export interface GenerationParams {
  prompt: string;
  negative?: string;
  steps: number;
  sampler: string;
  guidance: number;
  seed: number;
  width: number;
  height: number;
  model: string;
  /** Model id or folder name for the provenance XMP (default `model`). */
  modelId?: string;
  strength?: number;
}

/** AUTOMATIC1111's `parameters` text. */
export function parametersText(p: GenerationParams): string {
  const fields = [
    `Steps: ${p.steps}`,
    `Sampler: ${p.sampler}`,
    `CFG scale: ${p.guidance}`,
    `Seed: ${p.seed}`,
    `Size: ${p.width}x${p.height}`,
    `Model: ${p.model}`,
    ...(p.strength !== undefined ? [`Denoising strength: ${p.strength}`] : []),
  ];
  return `${p.prompt}\n${p.negative ? `Negative prompt: ${p.negative}\n` : ''}${fields.join(', ')}`;
}

/** CHW floats in [−1, 1] → HWC bytes. */
export function chwToRgbBytes(chw: Float32Array, width: number, height: number, offset = 0): Buffer {
  const plane = width * height;
  // Uint8ClampedArray clamps to 0…255 and rounds on store: no branches in the loop
  const out = new Uint8ClampedArray(plane * 3);
  for (let c = 0; c < 3; c++) {
    const base = offset + c * plane;
    for (let p = 0, q = c; p < plane; p++, q += 3) out[q] = ((chw[base + p] as number) + 1) * 127.5;
  }
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

export async function encodeGenerated(
  rgb: { data: Buffer; width: number; height: number },
  params: GenerationParams,
): Promise<Buffer> {
  const png = await encodePng({ ...rgb, channels: 3 });
  const xmp = provenanceXmp({
    generator: 'iris',
    model: publicModelName(params.modelId ?? params.model),
    seed: params.seed,
    prompt: params.prompt,
  });
  return withPngText(png, { parameters: parametersText(params), Software: 'iris', [XMP_PNG_KEYWORD]: xmp }, [
    XMP_PNG_KEYWORD,
  ]);
}

/** Latents [4, h, w] (one image, at `offset`) → a small RGB preview PNG through latent→RGB factors. */
export async function latentPreview(
  latents: Float32Array,
  dims: { width: number; height: number; offset?: number },
  factors: readonly (readonly number[])[],
): Promise<Buffer> {
  const { width, height } = dims;
  const plane = width * height;
  const offset = dims.offset ?? 0;
  const chw = new Float32Array(3 * plane);
  for (let k = 0; k < 4; k++) {
    const row = factors[k] as readonly number[];
    for (let c = 0; c < 3; c++) {
      const f = row[c] as number;
      for (let p = 0; p < plane; p++)
        chw[c * plane + p] = (chw[c * plane + p] as number) + f * (latents[offset + k * plane + p] as number);
    }
  }
  return encodePng({ data: chwToRgbBytes(chw, width, height), width, height, channels: 3 });
}

/**
 * PNG output for generated images: raw RGB → PNG (sharp, via media's encodePng) with the generation
 * parameters in text chunks, and cheap latent previews.
 *
 * Text chunks (written after IHDR, so every reader finds them before the pixels):
 * - `parameters` (iTXt, UTF-8): the line format AUTOMATIC1111 and most SD tools read:
 *   "<prompt>\nNegative prompt: <negative>\nSteps: 4, Sampler: Euler, CFG scale: 0, Seed: 7, Size: 512x512, Model: sd-turbo"
 * - `Software` (tEXt): "iris".
 * - `XML:com.adobe.xmp` (iTXt): provenance XMP (src/core/provenance/xmp.ts): IPTC digital source type
 *   trainedAlgorithmicMedia, iris, the model id, the seed.
 */
import { encodePng } from '../../core/media.js';
import { withPngText } from '../../core/provenance/png-text.js';
import { provenanceXmp, publicModelName, XMP_PNG_KEYWORD } from '../../core/provenance/xmp.js';

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

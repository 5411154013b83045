// biome-ignore-all lint/style/noNonNullAssertion: small fixed-size matrix arithmetic with indices in range by construction
/**
 * Colour-world Stable Diffusion: folders laid out like the optimum / Hugging Face ONNX exports
 * (model_index.json, scheduler/scheduler_config.json, tokenizer/{vocab.json, merges.txt, …},
 * text_encoder/model.onnx, unet/model.onnx, vae_decoder/model.onnx, vae_encoder/model.onnx, each with its
 * config.json) with the real input/output names and weights set by hand, so that "a red square" gives a
 * mostly red image and the seed changes the texture, not the colour.
 *
 * - tokenizer: real CLIP byte-level BPE (256 byte characters, the same with `</w>`, merge chains for a
 *   small word list, `<|startoftext|>`/`<|endoftext|>` last, as in CLIP's vocab). 'turbo' ships only
 *   vocab.json + merges.txt (as onnxruntime/sd-turbo does; iris builds tokenizer.json), 'v1-5' also ships
 *   tokenizer.json. Pad token: '!' for turbo (SD 2.x), `<|endoftext|>` for v1-5.
 * - text_encoder: input_ids → last_hidden_state [batch, 77, 8], pooler_output [batch, 8]. A colour word's
 *   token embeds to [z_c (4), 1, 0, 0, 0], where z_c is the latent whose preview colour (SD 1.5's
 *   latent→RGB factors F, the same ones iris's previews use) is `magnitude × colour` in [−1, 1]³; every
 *   other token embeds to zero.
 * - unet: a denoiser towards target = mean z_c of the prompt's colour words (0 → grey when there is
 *   none): x̂₀ = (1−k)·(target + γ·sample) + k·sample/√ᾱ_t with k = s²ᾱ/(s²ᾱ + 1 − ᾱ) (the posterior mean
 *   under a Gaussian prior of spread s = 0.3 around the target, so a lightly noised image — a variation at
 *   low strength — keeps its own colours), ε = (sample − √ᾱ_t·x̂₀)/√(1−ᾱ_t), ᾱ_t read from the SD
 *   schedule at the (rounded) timestep. γ·sample carries the seed's noise into the picture.
 *   Classifier-free guidance extrapolates the targets only: x̂₀ = γ·sample + z_u + g(z_c − z_u). So v1-5
 *   (meant for guidance 7.5, like the real one) uses magnitude 0.8/7.5, turbo (no guidance) 0.8.
 * - vae_decoder: latent_sample ×0.18215 → F (1×1 conv) → bilinear ×8 → sample in [−1, 1].
 *   vae_encoder: 8×8 average pool → F's pseudo-inverse → ÷0.18215; 'turbo' answers latent_sample,
 *   'v1-5' latent_parameters (mean ‖ log-variance, as newer exports), so both forms are exercised.
 * - dtypes: 'turbo' is an fp16 export (float16 sample/timestep/hidden states/outputs, int32 input_ids,
 *   timestep [batch]); 'v1-5' is fp32 with int64 input_ids and an int64 timestep of shape [1].
 *
 * `cost: 'bench'` keeps all of that and adds work with a realistic per-step cost (convolution stacks
 * whose result is scaled by 1e-6 into the output, so the pictures stay the same): UNet 6 × 3×3 conv of
 * width 384 at latent resolution (≈ 33 GMACs per image at 512², SD 1.5's UNet ≈ 400), VAE decoder convs
 * up to full size (≈ 12 GMACs, SD's ≈ 1200). Both are far cheaper than the real ones, so the glue's share
 * measured on them overstates the share with real weights.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { COLOURS } from '../../core/colour-names.js';
import { LATENT_RGB_FACTORS } from '../../models/imagine/latent-rgb.js';
import { alphasCumprod, SD_SCHEDULE } from '../../models/imagine/schedulers.js';
import { BOS, bytesToUnicode, clipTokenizerJson, EOS } from '../../models/imagine/tokenizer.js';
import { type Dim, type ElemType, Graph } from './onnx.js';

export type SdVariant = 'turbo' | 'v1-5';
export interface SdSynthOptions {
  variant: SdVariant;
  cost?: 'colour' | 'bench';
}

export const VAE_SCALING = 0.18215;
const HIDDEN = 8;
const TEXTURE = 0.1;
/** Spread of the colour world's images around their target latent (the denoiser's Gaussian prior). */
const PRIOR_STD = 0.3;
const WORDS = [
  ...Object.keys(COLOURS),
  'a',
  'an',
  'the',
  'of',
  'and',
  'square',
  'circle',
  'photo',
  'picture',
  'painting',
  'cat',
  'dog',
  'text',
  'watermark',
  'blurry',
  'sky',
];

// ---------------------------------------------------------------------------------------------
// Tokenizer files

function clipVocab(): { vocab: Record<string, number>; merges: string[] } {
  const table = bytesToUnicode();
  const order: string[] = [];
  const seen = new Set<string>();
  const add = (c: string) => {
    if (!seen.has(c)) {
      seen.add(c);
      order.push(c);
    }
  };
  for (let b = 33; b <= 126; b++) add(table[b] as string);
  for (let b = 161; b <= 172; b++) add(table[b] as string);
  for (let b = 174; b <= 255; b++) add(table[b] as string);
  for (let b = 0; b < 256; b++) add(table[b] as string);
  const tokens = [...order, ...order.map((c) => `${c}</w>`)];
  const known = new Set(tokens);
  // Every split of every substring of a word is a merge, so BPE reaches the whole word whatever order
  // the merges apply in (shorter results rank first, so their parts exist when they are needed).
  const found: { merge: string; token: string }[] = [];
  const seen2 = new Set<string>();
  for (const word of WORDS) {
    const L = word.length;
    const piece = (i: number, j: number) => word.slice(i, j) + (j === L ? '</w>' : '');
    for (let i = 0; i < L; i++) {
      for (let j = i + 2; j <= L; j++) {
        for (let k = i + 1; k < j; k++) {
          const merge = `${piece(i, k)} ${piece(k, j)}`;
          if (seen2.has(merge)) continue;
          seen2.add(merge);
          found.push({ merge, token: piece(i, j) });
        }
      }
    }
  }
  found.sort((a, b) => a.token.length - b.token.length);
  const merges = found.map((f) => f.merge);
  for (const { token } of found) {
    if (!known.has(token)) {
      known.add(token);
      tokens.push(token);
    }
  }
  tokens.push(BOS, EOS);
  return { vocab: Object.fromEntries(tokens.map((t, i) => [t, i])), merges };
}

// ---------------------------------------------------------------------------------------------
// Colour ↔ latent

function invert3(m: number[][]): number[][] {
  const [a, b, c] = m as [number[], number[], number[]];
  const det =
    a[0]! * (b[1]! * c[2]! - b[2]! * c[1]!) -
    a[1]! * (b[0]! * c[2]! - b[2]! * c[0]!) +
    a[2]! * (b[0]! * c[1]! - b[1]! * c[0]!);
  const cof = (r: number, k: number) => {
    const rows = [0, 1, 2].filter((x) => x !== r);
    const cols = [0, 1, 2].filter((x) => x !== k);
    const [r0, r1] = rows as [number, number];
    const [c0, c1] = cols as [number, number];
    const v = m[r0]![c0]! * m[r1]![c1]! - m[r0]![c1]! * m[r1]![c0]!;
    return (r + k) % 2 ? -v : v;
  };
  return [0, 1, 2].map((i) => [0, 1, 2].map((j) => cof(j, i) / det));
}

/** P (3×4) with (c·P)·F = c: the minimum-norm latent for an RGB colour in [−1, 1]. */
export function rgbToLatentMatrix(): number[][] {
  const F = LATENT_RGB_FACTORS.map((r) => [...r]);
  const FtF = [0, 1, 2].map((i) => [0, 1, 2].map((j) => F.reduce((s, row) => s + row[i]! * row[j]!, 0)));
  const inv = invert3(FtF);
  // P = (FᵀF)⁻¹ Fᵀ
  return [0, 1, 2].map((i) => [0, 1, 2, 3].map((k) => inv[i]!.reduce((s, v, j) => s + v * F[k]![j]!, 0)));
}

/** The latent a colour word asks for. */
export function colourLatent(rgb01: readonly number[], magnitude: number): number[] {
  const P = rgbToLatentMatrix();
  const c = rgb01.map((v) => (v * 2 - 1) * magnitude);
  return [0, 1, 2, 3].map((k) => c.reduce((s, v, i) => s + v * P[i]![k]!, 0));
}

// ---------------------------------------------------------------------------------------------
// Graphs

interface Dtypes {
  float: ElemType;
  ids: ElemType;
  timestep: ElemType;
  timestepDims: Dim[];
}

function dtypes(variant: SdVariant): Dtypes {
  return variant === 'turbo'
    ? { float: 'float16', ids: 'int32', timestep: 'float16', timestepDims: ['batch'] }
    : { float: 'float32', ids: 'int64', timestep: 'int64', timestepDims: [1] };
}

const toFloat = (g: Graph, x: string) => g.node('Cast', [x], { to: 1 });
const fromFloat = (g: Graph, x: string, elem: ElemType) =>
  elem === 'float16' ? g.node('Cast', [x], { to: 10 }) : x;

function textEncoder(variant: SdVariant, vocab: Record<string, number>): Uint8Array {
  const d = dtypes(variant);
  const magnitude = variant === 'turbo' ? 0.8 : 0.8 / 7.5;
  const size = Object.keys(vocab).length;
  const table = new Float32Array(size * HIDDEN);
  for (const [word, rgb] of Object.entries(COLOURS)) {
    const id = vocab[`${word}</w>`] as number;
    table.set([...colourLatent(rgb, magnitude), 1], id * HIDDEN);
  }
  const g = new Graph('CLIPTextModel');
  const ids = g.input('input_ids', d.ids, ['batch', 'sequence']);
  const hidden = g.node('Gather', [g.init(table, [size, HIDDEN]), g.node('Cast', [ids], { to: 7 })], {
    axis: 0,
  });
  const pooled = g.node('ReduceSum', [hidden, g.i64([1])], { keepdims: 0 });
  g.output(g.rename(fromFloat(g, hidden, d.float), 'last_hidden_state'), d.float, [
    'batch',
    'sequence',
    HIDDEN,
  ]);
  g.output(g.rename(fromFloat(g, pooled, d.float), 'pooler_output'), d.float, ['batch', HIDDEN]);
  return g.toBytes();
}

function randomWeights(n: number, fanIn: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  const a = Math.sqrt(3 / fanIn);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = (s / 4294967296) * 2 * a - a;
  }
  return out;
}

function conv(g: Graph, x: string, cin: number, cout: number, seed: number, shared?: string): string {
  const w = shared ?? g.init(randomWeights(cout * cin * 9, cin * 9, seed), [cout, cin, 3, 3]);
  return g.node('Conv', [x, w], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
}

/**
 * Work with a per-step cost in SD's range, scaled to nothing: 1e-6 · convstack(x). 6 conv3×3 of width 384
 * at latent resolution ≈ 33 GMACs per image at 512×512 (SD 1.5's UNet: ≈ 400), weights shared by layers.
 */
function benchUnetWork(g: Graph, sample: string): string {
  const C = 384;
  let h = g.node('Relu', [conv(g, sample, 4, C, 1)]);
  const shared = g.init(randomWeights(C * C * 9, C * 9, 2), [C, C, 3, 3]);
  for (let l = 0; l < 6; l++) h = g.node('Relu', [conv(g, h, C, C, 0, shared)]);
  return g.node('Mul', [conv(g, h, C, 4, 3), g.scalar(1e-6)]);
}

function unet(variant: SdVariant, cost: 'colour' | 'bench'): Uint8Array {
  const d = dtypes(variant);
  const g = new Graph('UNet2DConditionModel');
  const sampleIn = g.input('sample', d.float, ['batch', 4, 'height', 'width']);
  const tIn = g.input('timestep', d.timestep, d.timestepDims);
  const ehsIn = g.input('encoder_hidden_states', d.float, ['batch', 'sequence', HIDDEN]);
  const sample = toFloat(g, sampleIn);
  const ehs = toFloat(g, ehsIn);
  const sum = g.node('ReduceSum', [ehs, g.i64([1])], { keepdims: 0 }); // [N, 8]
  const num = g.node('Slice', [sum, g.i64([0]), g.i64([4]), g.i64([1])]);
  const cnt = g.node('Slice', [sum, g.i64([4]), g.i64([5]), g.i64([1])]);
  const target = g.node('Unsqueeze', [
    g.node('Div', [num, g.node('Max', [cnt, g.scalar(1)])]),
    g.i64([2, 3]),
  ]);
  const ac = Float32Array.from(alphasCumprod(SD_SCHEDULE));
  const tIdx = g.node('Cast', [g.node('Round', [toFloat(g, tIn)])], { to: 7 });
  const tClamped = g.node('Clip', [tIdx, g.i64([0], []), g.i64([999], [])]);
  const alpha = g.node('Reshape', [
    g.node('Gather', [g.init(ac, [ac.length]), tClamped], { axis: 0 }),
    g.i64([-1, 1, 1, 1]),
  ]);
  // k = s²ᾱ/(s²ᾱ + 1 − ᾱ): how much the sample itself can be trusted (≈0 at high noise, →1 at low noise)
  const s2a = g.node('Mul', [alpha, g.scalar(PRIOR_STD * PRIOR_STD)]);
  const k = g.node('Div', [s2a, g.node('Sub', [g.node('Add', [s2a, g.scalar(1)]), alpha])]);
  const guess = g.node('Add', [target, g.node('Mul', [sample, g.scalar(TEXTURE)])]);
  const fromSample = g.node('Div', [sample, g.node('Sqrt', [alpha])]);
  const x0 = g.node('Add', [
    g.node('Mul', [g.node('Sub', [g.scalar(1), k]), guess]),
    g.node('Mul', [k, fromSample]),
  ]);
  let eps = g.node('Div', [
    g.node('Sub', [sample, g.node('Mul', [g.node('Sqrt', [alpha]), x0])]),
    g.node('Sqrt', [g.node('Sub', [g.scalar(1), alpha])]),
  ]);
  if (cost === 'bench') eps = g.node('Add', [eps, benchUnetWork(g, sample)]);
  g.output(g.rename(fromFloat(g, eps, d.float), 'out_sample'), d.float, ['batch', 4, 'height', 'width']);
  return g.toBytes();
}

function latentToRgbWeights(): Float32Array {
  // conv weight [3 out, 4 in, 1, 1]: W[c][k] = F[k][c]
  const w = new Float32Array(12);
  for (let c = 0; c < 3; c++) for (let k = 0; k < 4; k++) w[c * 4 + k] = LATENT_RGB_FACTORS[k]![c]!;
  return w;
}

function upsample(g: Graph, x: string, factor: number): string {
  return g.node('Resize', [x, '', g.f32([1, 1, factor, factor])], { mode: 'linear' });
}

function vaeDecoder(variant: SdVariant, cost: 'colour' | 'bench'): Uint8Array {
  const d = dtypes(variant);
  const g = new Graph('AutoencoderKL.decoder');
  const z = g.node('Mul', [
    toFloat(g, g.input('latent_sample', d.float, ['batch', 4, 'height', 'width'])),
    g.scalar(VAE_SCALING),
  ]);
  const rgb = g.node('Conv', [z, g.init(latentToRgbWeights(), [3, 4, 1, 1])], { kernel_shape: [1, 1] });
  let out = upsample(g, rgb, 8);
  if (cost === 'bench') {
    // ≈ 12 GMACs at 512×512 (SD's VAE decoder: ≈ 1200)
    let h = g.node('Relu', [conv(g, z, 4, 128, 11)]);
    h = g.node('Relu', [conv(g, upsample(g, h, 2), 128, 128, 12)]);
    h = g.node('Relu', [conv(g, upsample(g, h, 2), 128, 64, 13)]);
    h = g.node('Relu', [conv(g, upsample(g, h, 2), 64, 32, 14)]);
    h = conv(g, h, 32, 3, 15);
    out = g.node('Add', [out, g.node('Mul', [h, g.scalar(1e-6)])]);
  }
  g.output(g.rename(fromFloat(g, out, d.float), 'sample'), d.float, ['batch', 3, 'height_out', 'width_out']);
  return g.toBytes();
}

function vaeEncoder(variant: SdVariant): Uint8Array {
  const d = dtypes(variant);
  const g = new Graph('AutoencoderKL.encoder');
  const px = toFloat(g, g.input('sample', d.float, ['batch', 3, 'height', 'width']));
  const pooled = g.node('AveragePool', [px], { kernel_shape: [8, 8], strides: [8, 8] });
  const P = rgbToLatentMatrix();
  const w = new Float32Array(12); // [4 out, 3 in, 1, 1]: W[k][i] = P[i][k]
  for (let k = 0; k < 4; k++) for (let i = 0; i < 3; i++) w[k * 3 + i] = P[i]![k]! / VAE_SCALING;
  const mean = g.node('Conv', [pooled, g.init(w, [4, 3, 1, 1])], { kernel_shape: [1, 1] });
  const dims: Dim[] = ['batch', variant === 'turbo' ? 4 : 8, 'height_latent', 'width_latent'];
  if (variant === 'turbo') g.output(g.rename(fromFloat(g, mean, d.float), 'latent_sample'), d.float, dims);
  else {
    const params = g.node('Concat', [mean, g.node('Mul', [mean, g.scalar(0)])], { axis: 1 });
    g.output(g.rename(params, 'latent_parameters'), d.float, dims);
  }
  return g.toBytes();
}

// ---------------------------------------------------------------------------------------------
// Companion files

function schedulerConfig(variant: SdVariant) {
  const common = {
    beta_start: 0.00085,
    beta_end: 0.012,
    beta_schedule: 'scaled_linear',
    num_train_timesteps: 1000,
    prediction_type: 'epsilon',
    set_alpha_to_one: false,
    steps_offset: 1,
    trained_betas: null,
  };
  return variant === 'turbo'
    ? {
        _class_name: 'EulerDiscreteScheduler',
        ...common,
        timestep_spacing: 'trailing',
        interpolation_type: 'linear',
      }
    : { _class_name: 'PNDMScheduler', ...common, skip_prk_steps: true, clip_sample: false };
}

/** Write a colour-world SD folder (see the module comment) into `outDir`. */
export async function synthSd(outDir: string, opts: SdSynthOptions): Promise<void> {
  const { variant } = opts;
  const cost = opts.cost ?? 'colour';
  const { vocab, merges } = clipVocab();
  const json = async (path: string, v: unknown) => {
    await mkdir(join(outDir, path, '..'), { recursive: true });
    await writeFile(join(outDir, path), `${JSON.stringify(v, null, 2)}\n`);
  };
  const onnx = async (sub: string, bytes: Uint8Array, config: unknown) => {
    await mkdir(join(outDir, sub), { recursive: true });
    await writeFile(join(outDir, sub, 'model.onnx'), bytes);
    await json(`${sub}/config.json`, config);
  };
  await json('model_index.json', {
    _class_name: 'StableDiffusionPipeline',
    _diffusers_version: '0.24.0',
    scheduler: ['diffusers', schedulerConfig(variant)._class_name],
    text_encoder: ['transformers', 'CLIPTextModel'],
    tokenizer: ['transformers', 'CLIPTokenizer'],
    unet: ['diffusers', 'UNet2DConditionModel'],
    vae_decoder: ['diffusers', 'AutoencoderKL'],
    vae_encoder: ['diffusers', 'AutoencoderKL'],
    iris_colour_world: { variant, cost },
  });
  await json('scheduler/scheduler_config.json', schedulerConfig(variant));
  await json('tokenizer/vocab.json', vocab);
  await mkdir(join(outDir, 'tokenizer'), { recursive: true });
  await writeFile(join(outDir, 'tokenizer', 'merges.txt'), `#version: 0.2\n${merges.join('\n')}\n`);
  await json('tokenizer/tokenizer_config.json', {
    tokenizer_class: 'CLIPTokenizer',
    bos_token: BOS,
    eos_token: EOS,
    unk_token: EOS,
    pad_token: variant === 'turbo' ? '!' : EOS,
    model_max_length: 77,
    do_lower_case: true,
  });
  await json('tokenizer/special_tokens_map.json', {
    bos_token: BOS,
    eos_token: EOS,
    unk_token: EOS,
    pad_token: variant === 'turbo' ? '!' : EOS,
  });
  if (variant === 'v1-5') await json('tokenizer/tokenizer.json', clipTokenizerJson(vocab, merges));
  await onnx('text_encoder', textEncoder(variant, vocab), {
    architectures: ['CLIPTextModel'],
    model_type: 'clip_text_model',
    hidden_size: HIDDEN,
    max_position_embeddings: 77,
    vocab_size: Object.keys(vocab).length,
  });
  await onnx('unet', unet(variant, cost), {
    _class_name: 'UNet2DConditionModel',
    sample_size: 64,
    in_channels: 4,
    out_channels: 4,
    cross_attention_dim: HIDDEN,
  });
  const vae = {
    _class_name: 'AutoencoderKL',
    latent_channels: 4,
    sample_size: 512,
    scaling_factor: VAE_SCALING,
    block_out_channels: [128, 256, 512, 512],
  };
  await onnx('vae_decoder', vaeDecoder(variant, cost), vae);
  await onnx('vae_encoder', vaeEncoder(variant), vae);
}

/**
 * Stable Diffusion on onnxruntime-node (backend id 'sd') for the optimum / Hugging Face ONNX layout:
 * `tokenizer/`, `text_encoder/model.onnx`, `unet/model.onnx`, `vae_decoder/model.onnx`,
 * `vae_encoder/model.onnx` (variations only), `scheduler/scheduler_config.json`. Input/output names,
 * dtypes (fp32/fp16, int32/int64 ids and timesteps) and the timestep's shape are read from the sessions.
 *
 * One run: tokenise [negative, prompt] → one text-encoder call → latents from the seeded noise of each
 * image (seed + i) → per step: one UNet call on [uncond × count, cond × count] when guidance > 1
 * (classifier-free guidance ε = ε_u + g·(ε_c − ε_u)), else on the prompt alone → scheduler step →
 * VAE decode one image at a time → PNG with parameters. The AbortSignal is checked before every UNet
 * call and every decode, so a cancel stops within one step.
 *
 * Options (config `tasks.imagine.options`): `intraOpNumThreads` (0 = onnxruntime's choice),
 * `graphOptimizationLevel` ('all'), `previewFactors` (4×3 latent→RGB; default SD 1.5's), `hooks` (bench and
 * tests: `onSessionRun(name, ms)`, `onPhase(name, ms)`); schema `sdOptions` in ../options.ts.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Backend, RunOptions } from '../../contracts/backend.js';
import { type ImagineIO, SCHEDULER_LABELS, type SchedulerName } from '../../contracts/tasks/imagine.js';
import { toRgb } from '../../core/media.js';
import { BackendError, UserError } from '../../errors.js';
import type { SdHooks, SdOptions } from '../options.js';
import { floatTensor, idsTensor, type SessionValueMeta, tensorToFloat32, valueMeta } from '../tensors.js';
import type { BackendFactory, BackendLoadOptions } from '../types.js';
import { LATENT_RGB_FACTORS } from './latent-rgb.js';
import { chwToRgbBytes, encodeGenerated, latentPreview } from './png.js';
import { SeededRandom } from './rng.js';
import { alphasCumprod, createScheduler, parseSchedulerConfig, schedulerFromClass } from './schedulers.js';
import { timestepTensor } from './tensors.js';
import { loadClipTokenizer } from './tokenizer.js';

const cancelled = () => new UserError('cancelled', 'The request was cancelled.');

async function readJsonIfAny(path: string): Promise<Record<string, unknown>> {
  if (!existsSync(path)) return {};
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (cause) {
    throw new BackendError('bad_model', `unreadable ${path}`, { isRetryable: false, cause });
  }
}

interface Part {
  session: ort.InferenceSession;
  inputs: Map<string, SessionValueMeta>;
  outputs: Map<string, SessionValueMeta>;
}

function pick(map: Map<string, SessionValueMeta>, names: string[], what: string): SessionValueMeta {
  for (const n of names) {
    const m = map.get(n);
    if (m) return m;
  }
  throw new BackendError(
    'bad_model',
    `${what}: none of ${names.join(', ')} (has ${[...map.keys()].join(', ')})`,
    {
      isRetryable: false,
    },
  );
}

export const createSdBackend: BackendFactory<'imagine', SdOptions> = async (
  load: BackendLoadOptions<SdOptions>,
) => {
  const o = load.options;
  const hooks = o.hooks;
  const factors: readonly (readonly number[])[] = o.previewFactors ?? LATENT_RGB_FACTORS;
  const dir = load.modelDir;
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    executionProviders: load.executionProviders.length ? load.executionProviders : ['cpu'],
    graphOptimizationLevel: o.graphOptimizationLevel,
    intraOpNumThreads: o.intraOpNumThreads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  };
  const open = async (sub: string): Promise<Part> => {
    const path = join(dir, sub, 'model.onnx');
    if (!existsSync(path)) {
      throw new UserError('model_missing', `the Stable Diffusion folder ${dir} has no ${sub}/model.onnx`);
    }
    try {
      const session = await ort.InferenceSession.create(path, sessionOptions);
      return {
        session,
        inputs: valueMeta(session.inputMetadata),
        outputs: valueMeta(session.outputMetadata),
      };
    } catch (cause) {
      throw new BackendError('bad_model', `imagine/sd: cannot load ${path}: ${(cause as Error).message}`, {
        isRetryable: false,
        cause,
      });
    }
  };

  const schedulerJson = await readJsonIfAny(join(dir, 'scheduler', 'scheduler_config.json'));
  const schedule = parseSchedulerConfig(schedulerJson);
  const ac = alphasCumprod(schedule);
  const defaultScheduler: SchedulerName = schedulerFromClass(schedulerJson._class_name) ?? 'euler';
  const vaeConfig = await readJsonIfAny(join(dir, 'vae_decoder', 'config.json'));
  const scaling = typeof vaeConfig.scaling_factor === 'number' ? vaeConfig.scaling_factor : 0.18215;
  const tokenizer = await loadClipTokenizer(dir);
  const [text, unet, decoder] = await Promise.all([open('text_encoder'), open('unet'), open('vae_decoder')]);
  let encoder: Promise<Part> | undefined; // loaded on the first variation

  const idsIn = pick(text.inputs, ['input_ids'], 'text_encoder input');
  const hiddenOut = text.outputs.has('last_hidden_state')
    ? 'last_hidden_state'
    : (text.session.outputNames[0] as string);
  const sampleIn = pick(unet.inputs, ['sample'], 'unet input');
  const timestepIn = pick(unet.inputs, ['timestep'], 'unet input');
  const ehsIn = pick(unet.inputs, ['encoder_hidden_states'], 'unet input');
  const unetOut = unet.outputs.has('out_sample') ? 'out_sample' : (unet.session.outputNames[0] as string);
  const latentIn = pick(decoder.inputs, ['latent_sample'], 'vae_decoder input');
  const decoderOut = decoder.outputs.has('sample') ? 'sample' : (decoder.session.outputNames[0] as string);
  const textBatchFixed = idsIn.shape[0] === 1;

  const timed = async (name: string, part: Part, feeds: Record<string, ort.Tensor>, out: string) => {
    const t0 = performance.now();
    let result: ort.InferenceSession.OnnxValueMapType;
    try {
      result = await part.session.run(feeds, [out]);
    } catch (cause) {
      throw new BackendError('model_failed', `imagine/sd: ${name} failed: ${(cause as Error).message}`, {
        isRetryable: false,
        cause,
      });
    }
    hooks.onSessionRun?.(name, performance.now() - t0);
    return result[out] as ort.Tensor;
  };
  const phase = <T>(name: Parameters<NonNullable<SdHooks['onPhase']>>[0], fn: () => T): T => {
    const t0 = performance.now();
    const r = fn();
    hooks.onPhase?.(name, performance.now() - t0);
    return r;
  };

  /** [rows, 77, hidden] hidden states for the texts, as float32. */
  async function encodeTexts(texts: string[]): Promise<{ data: Float32Array; seq: number; hidden: number }> {
    const { ids } = phase('tokenize', () => tokenizer.encode(texts));
    const rows = textBatchFixed ? ids.map((r) => [r]) : [ids];
    const parts: Float32Array[] = [];
    let dims: readonly number[] = [];
    for (const r of rows) {
      const out = await timed('text_encoder', text, { [idsIn.name]: idsTensor(idsIn.type, r) }, hiddenOut);
      dims = out.dims;
      parts.push(tensorToFloat32(out));
    }
    const data = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      data.set(p, at);
      at += p.length;
    }
    return { data, seq: dims[1] as number, hidden: dims[2] as number };
  }

  async function encodeInit(init: NonNullable<ImagineIO['in']['init']>, width: number, height: number) {
    encoder ??= open('vae_encoder');
    encoder.catch(() => {
      encoder = undefined;
    });
    const part = await encoder;
    const rgb = await toRgb(init.image, { width, height, fit: 'cover' });
    const plane = width * height;
    const chw = new Float32Array(3 * plane);
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) chw[c * plane + p] = (rgb.data[p * 3 + c] as number) / 127.5 - 1;
    }
    const inMeta = pick(part.inputs, ['sample'], 'vae_encoder input');
    const outName = part.outputs.has('latent_sample')
      ? 'latent_sample'
      : part.outputs.has('latent_parameters')
        ? 'latent_parameters'
        : (part.session.outputNames[0] as string);
    const out = await timed(
      'vae_encoder',
      part,
      { [inMeta.name]: floatTensor(inMeta.type, chw, [1, 3, height, width]) },
      outName,
    );
    const all = tensorToFloat32(out);
    // latent_parameters = mean ‖ log-variance: the mean is the first 4 channels (deterministic, no sampling)
    const lat = all.slice(0, 4 * (width / 8) * (height / 8));
    for (let i = 0; i < lat.length; i++) lat[i] = (lat[i] as number) * scaling;
    return lat;
  }

  async function run(input: ImagineIO['in'], opts: RunOptions): Promise<ImagineIO['out']> {
    const { prompt, width, height, count, guidance } = input;
    const name = input.scheduler ?? defaultScheduler;
    const cfg = guidance > 1;
    const lw = width / 8;
    const lh = height / 8;
    const per = 4 * lw * lh;
    let steps = input.steps;
    let start = 0;
    // img2img: run the last floor(steps × strength) steps; at least one (SD-Turbo: steps × strength ≥ 1)
    if (input.init) {
      const s = input.init.strength;
      if (Math.floor(steps * s) < 1) steps = Math.ceil(1 / s);
      start = steps - Math.min(steps, Math.floor(steps * s));
    }
    const sched = createScheduler(name, steps, schedule, ac);
    if (opts.signal.aborted) throw cancelled();

    const texts = cfg ? [input.negative ?? '', prompt] : [prompt];
    const enc = await encodeTexts(texts);
    const rowLen = enc.seq * enc.hidden;
    const rows = cfg ? 2 * count : count;
    const ehs = new Float32Array(rows * rowLen);
    for (let r = 0; r < rows; r++) {
      const src = cfg && r >= count ? 1 : 0;
      ehs.set(enc.data.subarray(src * rowLen, (src + 1) * rowLen), r * rowLen);
    }
    const ehsTensor = floatTensor(ehsIn.type, ehs, [rows, enc.seq, enc.hidden]);

    const rngs = Array.from({ length: count }, (_, i) => new SeededRandom((input.seed + i) >>> 0));
    const initLatents = input.init ? await encodeInit(input.init, width, height) : undefined;
    if (opts.signal.aborted) throw cancelled();
    let latents = phase('init', () => {
      const noise = new Float32Array(count * per);
      rngs.forEach((rng, i) => {
        noise.set(rng.normals(per), i * per);
      });
      if (!initLatents) return noise.map((v) => v * sched.initNoiseSigma);
      const x0 = new Float32Array(count * per);
      for (let i = 0; i < count; i++) x0.set(initLatents, i * per);
      return sched.addNoise(x0, noise, start);
    });

    const calls = sched.timesteps.length;
    // Steps as the user counts them: PNDM runs one UNet call more than its steps (a warm-up that, with the
    // call before it, makes step 1), so the last call is step `total` and earlier ones count back from it.
    const total = steps - start;
    const extraCalls = calls - start - total;
    const previewEvery = typeof input.previewEvery === 'number' ? input.previewEvery : 0;
    for (let i = start; i < calls; i++) {
      if (opts.signal.aborted) throw cancelled();
      const t = sched.timesteps[i] as number;
      const modelIn = phase('scheduler', () => {
        const scale = sched.inputScale(i);
        const x = new Float32Array(rows * per);
        for (let k = 0; k < count * per; k++) x[k] = (latents[k] as number) * scale;
        if (cfg) x.copyWithin(count * per, 0, count * per);
        return x;
      });
      const out = await timed(
        'unet',
        unet,
        {
          [sampleIn.name]: floatTensor(sampleIn.type, modelIn, [rows, 4, lh, lw]),
          [timestepIn.name]: timestepTensor(timestepIn, t, rows),
          [ehsIn.name]: ehsTensor,
        },
        unetOut,
      );
      const raw = tensorToFloat32(out);
      const { prev, x0 } = phase('scheduler', () => {
        let eps = raw;
        if (cfg) {
          eps = new Float32Array(count * per);
          const off = count * per;
          for (let k = 0; k < off; k++) {
            const u = raw[k] as number;
            eps[k] = u + guidance * ((raw[off + k] as number) - u);
          }
        }
        let noise: Float32Array | undefined;
        if (sched.stochastic) {
          noise = new Float32Array(count * per);
          rngs.forEach((rng, n) => {
            noise?.set(rng.normals(per), n * per);
          });
        }
        return sched.step(i, eps, latents, noise);
      });
      latents = prev;
      const done = i - start + 1 - extraCalls;
      if (done < 1) continue;
      let preview: Buffer | undefined;
      if (previewEvery > 0 && done < total && done % previewEvery === 0) {
        const t0 = performance.now();
        preview = await latentPreview(x0, { width: lw, height: lh }, factors);
        hooks.onPhase?.('preview', performance.now() - t0);
      }
      opts.onProgress?.({ step: done, total, ...(preview ? { preview } : {}) });
    }

    // PNG encoding runs on libuv's threads: image n is encoded while image n+1 is decoded
    const encoded: Promise<ImagineIO['out']['images'][number]>[] = [];
    for (let n = 0; n < count; n++) {
      if (opts.signal.aborted) throw cancelled();
      const z = latents.slice(n * per, (n + 1) * per).map((v) => v / scaling);
      const out = await timed(
        'vae_decoder',
        decoder,
        { [latentIn.name]: floatTensor(latentIn.type, z, [1, 4, lh, lw]) },
        decoderOut,
      );
      const rgb = phase('decode-post', () => chwToRgbBytes(tensorToFloat32(out), width, height));
      const seed = (input.seed + n) >>> 0;
      const t0 = performance.now();
      const png = encodeGenerated(
        { data: rgb, width, height },
        {
          prompt,
          negative: cfg ? input.negative : undefined,
          steps,
          sampler: SCHEDULER_LABELS[sched.name],
          guidance: cfg ? guidance : 0,
          seed,
          width,
          height,
          model: input.modelName ?? load.modelId,
          modelId: load.modelId,
          strength: input.init?.strength,
        },
      ).then((bytes) => {
        hooks.onPhase?.('png', performance.now() - t0);
        return { png: bytes, width, height, seed };
      });
      png.catch(() => {});
      encoded.push(png);
    }
    const images = await Promise.all(encoded);
    return { images, scheduler: sched.name, steps };
  }

  let disposed = false;
  const backend: Backend<'imagine'> = {
    task: 'imagine',
    id: 'sd',
    model: load.modelId,
    run,
    async dispose() {
      if (disposed) return;
      disposed = true;
      const enc = encoder ? await encoder.catch(() => undefined) : undefined;
      await Promise.all([text, unet, decoder, ...(enc ? [enc] : [])].map((p) => p.session.release()));
    },
  };
  return backend;
};

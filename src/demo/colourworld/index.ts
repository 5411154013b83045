/**
 * Colour-world models: tiny ONNX graphs with the real models' file layout, input/output names,
 * dtypes and symbolic dims, and weights set by hand so that outputs are predictable (a solid red
 * image is tagged "red"). Tests, `iris models synth --out DIR` and the playground's `--demo` use them;
 * real weights are a config change. No weights are ever downloaded or committed.
 *
 * `synthAll(dir)` writes every model under `dir/<model id>`, so the registry (which resolves a model id
 * X to `<modelsDir>/X`) finds them under the default ids.
 *
 * Adding a model — see docs/colour-world.md:
 *   1. Write `src/demo/colourworld/<name>.ts` exporting `synth<Name>(outDir)` that lays out the folder
 *      exactly like the real export (config.json, tokenizer files, preprocessor/processor config,
 *      `onnx/*.onnx` with the real session names), building graphs with `Graph` from `./onnx.js`.
 *   2. Make it answer in colour: caption / VQA / OCR graphs reduce the image to its mean RGB (ReduceMean,
 *      as `clip.ts` does), pick the nearest of `COLOURS` and emit that colour's word ("red"); imagine
 *      maps the colour word in the prompt ("a red square") to a mostly-red image.
 *   3. Add one line to `MODELS` below with the default model id from the registry.
 */
import { join } from 'node:path';
import { synthBlip2 } from './blip2.js';
import { synthClip } from './clip.js';
import { synthFlorence2 } from './florence2.js';
import { synthSd } from './sd.js';
import { synthSmolVlm } from './smolvlm.js';

export { COLOURS } from '../../core/colour-names.js';
export { LATENT_RGB_FACTORS } from '../../models/imagine/latent-rgb.js';
export { BLIP2_VOCAB, synthBlip2 } from './blip2.js';
export { BENCH_LABELS, colourVector, synthClip, VOCAB } from './clip.js';
export { NOUNS } from './colour-lm.js';
export { FLORENCE2_TASK_PROMPTS, FLORENCE2_TEMPLATES, synthFlorence2 } from './florence2.js';
export { Graph } from './onnx.js';
export { colourShares, createColourClassifier, demoTaskTable } from './safety.js';
export { colourLatent, synthSd } from './sd.js';
export { SMOLVLM_VOCAB, type SmolVlmVariant, synthSmolVlm } from './smolvlm.js';

/** Model id (as in the registry) → writer of its colour-world folder. */
export const MODELS: Record<string, (outDir: string) => Promise<void>> = {
  'Xenova/clip-vit-base-patch32': (dir) => synthClip(dir, { variant: 'colour' }),
  'onnx-community/Florence-2-base-ft': synthFlorence2,
  'Salesforce/blip2-opt-2.7b': (dir) => synthBlip2(dir, { variant: 'colour' }),
  'onnxruntime/sd-turbo': (dir) => synthSd(dir, { variant: 'turbo' }),
  'stable-diffusion-v1-5/stable-diffusion-v1-5': (dir) => synthSd(dir, { variant: 'v1-5' }),
  'HuggingFaceTB/SmolVLM-256M-Instruct': synthSmolVlm,
};

/** Write every colour-world model under `outDir/<model id>`. Returns the ids written. */
export async function synthAll(outDir: string): Promise<string[]> {
  const ids = Object.keys(MODELS);
  for (const id of ids) await (MODELS[id] as (d: string) => Promise<void>)(join(outDir, id));
  return ids;
}

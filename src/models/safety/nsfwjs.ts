/**
 * Image safety scores from nsfwjs (MobileNetV2 / MobileNetV2Mid / InceptionV3 trained on Drawing, Hentai,
 * Neutral, Porn and Sexy) on TensorFlow.js with its WebAssembly backend. Weights and the .wasm files ship
 * inside the npm packages and are read from node_modules: nothing is downloaded at install or run time.
 *
 * The model bundles are UMD files: required here as CommonJS (so they set no globals) and handed to
 * nsfwjs as an in-memory model, which also keeps nsfwjs from printing its banner on stdout.
 */
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import sharp from 'sharp';
import { BackendError, UserError } from '../../errors.js';
import type { NsfwjsOptions } from '../options.js';
import type { BackendFactory } from '../types.js';

const require = createRequire(import.meta.url);

/** Model ids → bundle folder in nsfwjs/dist/models, shard count, input side and model format. */
export const NSFWJS_MODELS: Readonly<
  Record<string, { folder: string; shards: number; size: number; graph: boolean }>
> = {
  MobileNetV2: { folder: 'mobilenet_v2', shards: 1, size: 224, graph: false },
  MobileNetV2Mid: { folder: 'mobilenet_v2_mid', shards: 2, size: 224, graph: true },
  InceptionV3: { folder: 'inception_v3', shards: 6, size: 299, graph: false },
};

interface ModelJson {
  modelTopology: unknown;
  weightsManifest: { paths: string[]; weights: unknown[] }[];
  format?: string;
}

/** The nsfwjs package folder (its `exports` hides package.json, so walk up from its entry point). */
function nsfwjsDir(): string {
  let dir = dirname(require.resolve('nsfwjs'));
  while (basename(dir) !== 'nsfwjs' && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

function readBundle(model: string) {
  const spec = NSFWJS_MODELS[model];
  if (!spec) {
    throw new UserError(
      'bad_option',
      `Unknown nsfwjs model ${model}. Models: ${Object.keys(NSFWJS_MODELS).join(', ')}.`,
    );
  }
  const folder = join(nsfwjsDir(), 'dist', 'models', spec.folder);
  const json = require(join(folder, 'model.min.js')) as ModelJson;
  const shards = Array.from({ length: spec.shards }, (_, i) =>
    Buffer.from(require(join(folder, `group1-shard${i + 1}of${spec.shards}.min.js`)) as string, 'base64'),
  );
  const weightData = Buffer.concat(shards);
  return {
    spec,
    artifacts: {
      modelTopology: json.modelTopology as object,
      format: json.format,
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
      weightData: weightData.buffer.slice(
        weightData.byteOffset,
        weightData.byteOffset + weightData.byteLength,
      ),
    },
  };
}

/** Decoded to RGB at the model's input side: the same pixels whatever the file format. */
async function rgbPixels(image: Buffer, size: number): Promise<Uint8Array> {
  try {
    const { data } = await sharp(image, { animated: false })
      .resize(size, size, { fit: 'fill' })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } catch (cause) {
    throw new UserError('bad_image', 'That file could not be read as an image.', { cause });
  }
}

export const createNsfwjsClassifier: BackendFactory<'safety', NsfwjsOptions> = async (opts) => {
  const tf = await import('@tensorflow/tfjs');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const nsfwjs = await import('nsfwjs/core');
  if (tf.getBackend() !== 'wasm') {
    wasm.setWasmPaths(`${dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}/`);
    if (opts.options.threads > 0) wasm.setThreadsCount(opts.options.threads);
    if (!(await tf.setBackend('wasm'))) {
      throw new BackendError('backend_failed', 'TensorFlow.js could not start its WebAssembly backend.', {
        isRetryable: false,
      });
    }
    await tf.ready();
  }
  const { spec, artifacts } = readBundle(opts.modelId);
  const model = await nsfwjs.load(tf.io.fromMemory(artifacts) as unknown as string, {
    size: spec.size,
    ...(spec.graph && { type: 'graph' }),
  });
  return {
    task: 'safety',
    id: 'nsfwjs',
    model: opts.modelId,
    async run(input, { signal }) {
      const out: { scores: Record<string, number> }[] = [];
      for (const image of input.images) {
        signal.throwIfAborted();
        const pixels = await rgbPixels(image, spec.size);
        const tensor = tf.tensor3d(pixels, [spec.size, spec.size, 3], 'int32');
        try {
          const classes = await model.classify(tensor, 5);
          out.push({ scores: Object.fromEntries(classes.map((c) => [c.className, c.probability])) });
        } finally {
          tensor.dispose();
        }
      }
      return out;
    },
    async dispose() {
      model.dispose();
    },
  };
};

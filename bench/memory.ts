/**
 * `npm run bench -- memory [--mb 256]`
 *
 * Resident memory (RSS) after caption alone and after caption + read + find, all three on Florence-2, and
 * after tag alone and after tag + embed, both on CLIP. Each row runs in a fresh child process (so memory
 * one row freed cannot hide another's), side by side:
 *   (a) the registry, where tasks on one model folder share one loaded model (goal: ratio ≤ 1.15×)
 *   (b) one load per task: each backend factory called on its own, as the registry did before sharing
 *
 * Models: the colour-world Florence-2 with `--mb` MB of float32 weights added across its four sessions
 * (in the proportions of Florence-2-base's files: vision encoder, token embeddings, encoder, decoder; the
 * whole of Florence-2-base-ft in fp32 is about 1 GB, `--mb 1000`), and the bench colour-world CLIP (ViT-B/32's
 * shapes, see docs/colour-world.md). The added weights are read by a branch that adds 0 to a session's
 * output, so onnxruntime must load them and every answer stays the same.
 */
import { fork } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import onnxProto from 'onnx-proto';
import sharp from 'sharp';
import type { LoadedImage } from '../src/contracts/request.js';
import { loadImage } from '../src/core/media.js';
import { synthClip } from '../src/demo/colourworld/clip.js';
import { synthFlorence2 } from '../src/demo/colourworld/florence2.js';
import { createFlorence2Captioner } from '../src/models/caption/florence2.js';
import { createClipEmbedder } from '../src/models/embed/clip.js';
import { createFlorence2Finder } from '../src/models/find/florence2.js';
import { clipOptions, florence2Options } from '../src/models/options.js';
import { createFlorence2Reader } from '../src/models/read/florence2.js';
import { ModelRegistry } from '../src/models/registry.js';
import { createClipTagger } from '../src/models/tag/clip.js';
import type { BackendLoadOptions } from '../src/models/types.js';
import { flag } from './args.js';

const { onnx } = onnxProto;

const FLORENCE = 'onnx-community/Florence-2-base-ft';
const CLIP = 'Xenova/clip-vit-base-patch32';
const MB = 1024 * 1024;

/** Share of Florence-2-base's weights per session file, and the output the added branch feeds into. */
const FLORENCE_SESSIONS = [
  { file: 'vision_encoder', input: 'pixel_values', output: 'image_features', share: 0.34 },
  { file: 'embed_tokens', input: 'input_ids', output: 'inputs_embeds', share: 0.15 },
  { file: 'encoder_model', input: 'inputs_embeds', output: 'last_hidden_state', share: 0.16 },
  { file: 'decoder_model_merged', input: 'inputs_embeds', output: 'logits', share: 0.35 },
] as const;

/**
 * Adds a [rows, 1024] float32 weight of `bytes` to an ONNX file: `output` becomes output + 0 ·
 * sum(weight[0 · max(input)]). The index depends on the input, so the weight cannot be folded away.
 */
async function addWeights(path: string, o: { input: string; output: string; bytes: number }): Promise<void> {
  const model = onnx.ModelProto.decode(await readFile(path));
  const graph = model.graph;
  if (!graph?.node || !graph.initializer) throw new Error(`${path}: no graph`);
  const nodes = graph.node;
  const initializers = graph.initializer;
  const before = `${o.output}_before_bench_weights`;
  for (const node of nodes) {
    node.output = (node.output ?? []).map((n) => (n === o.output ? before : n));
    node.input = (node.input ?? []).map((n) => (n === o.output ? before : n));
  }
  const cols = 1024;
  const rows = Math.max(1, Math.round(o.bytes / 4 / cols));
  const weight = new Float32Array(rows * cols);
  for (let i = 0; i < weight.length; i++) weight[i] = ((i % 251) - 125) / 1000;
  const T = onnx.TensorProto.DataType;
  initializers.push(
    onnx.TensorProto.create({
      name: 'bench_weight',
      dims: [rows, cols],
      dataType: T.FLOAT,
      rawData: new Uint8Array(weight.buffer),
    }),
    onnx.TensorProto.create({ name: 'bench_zero', dims: [], dataType: T.FLOAT, floatData: [0] }),
  );
  const attr = (name: string, i: number) =>
    onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i });
  const node = (op: string, input: string[], output: string, attrs: ReturnType<typeof attr>[] = []) =>
    onnx.NodeProto.create({ opType: op, input, output: [output], name: output, attribute: attrs });
  nodes.push(
    node('Cast', [o.input], 'bench_x', [attr('to', T.FLOAT)]),
    node('ReduceMax', ['bench_x'], 'bench_max', [attr('keepdims', 0)]),
    node('Mul', ['bench_max', 'bench_zero'], 'bench_index_f'),
    node('Cast', ['bench_index_f'], 'bench_index', [attr('to', T.INT64)]),
    node('Gather', ['bench_weight', 'bench_index'], 'bench_row', [attr('axis', 0)]),
    node('ReduceSum', ['bench_row'], 'bench_sum', [attr('keepdims', 0)]),
    node('Mul', ['bench_sum', 'bench_zero'], 'bench_nothing'),
    node('Add', [before, 'bench_nothing'], o.output),
  );
  await writeFile(path, onnx.ModelProto.encode(model).finish());
}

async function buildModels(dir: string, mb: number): Promise<void> {
  const florence = join(dir, FLORENCE);
  await synthFlorence2(florence);
  for (const s of FLORENCE_SESSIONS) {
    await addWeights(join(florence, 'onnx', `${s.file}.onnx`), {
      input: s.input,
      output: s.output,
      bytes: mb * s.share * MB,
    });
  }
  await mkdir(join(dir, CLIP), { recursive: true });
  await synthClip(join(dir, CLIP), { variant: 'bench' });
}

type Row = { family: 'florence2' | 'clip'; mode: 'shared' | 'per-task' };
type Measured = { base: number; one: number; all: number; answers: string[] };

/** RSS in MiB after a full GC (the child runs with --expose-gc). */
function rss(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().rss / MB;
}

/** One row, in this (child) process: load and run the first task, measure, then the others, measure. */
async function measure(dir: string, row: Row): Promise<Measured> {
  const signal = new AbortController().signal;
  const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#ff0000' } })
    .png()
    .toBuffer();
  const limits = { maxBytes: 1 << 24, maxPixels: 1 << 24, formats: ['png'] } as const;
  const image: LoadedImage = await loadImage('red.png', png, limits);
  const load = <O>(model: string, options: O): BackendLoadOptions<O> => ({
    modelDir: join(dir, model),
    modelId: model,
    executionProviders: ['cpu'],
    options,
  });
  const registry = new ModelRegistry({
    modelsDir: dir,
    executionProviders: ['cpu'],
    tasks: {
      caption: { backend: 'florence2', model: FLORENCE, options: {} },
      read: { backend: 'florence2', model: FLORENCE, options: {} },
      find: { backend: 'florence2', model: FLORENCE, options: {} },
      tag: { backend: 'clip', model: CLIP, options: {} },
      embed: { backend: 'clip', model: CLIP, options: {} },
    },
  });
  const shared = row.mode === 'shared';
  const answers: string[] = [];
  const base = rss();
  let one: number;
  if (row.family === 'florence2') {
    const caption = shared
      ? await registry.get('caption')
      : await createFlorence2Captioner(load(FLORENCE, florence2Options.parse({})));
    answers.push((await caption.run({ image }, { signal })).caption);
    one = rss();
    const read = shared
      ? await registry.get('read')
      : await createFlorence2Reader(load(FLORENCE, florence2Options.parse({})));
    const find = shared
      ? await registry.get('find')
      : await createFlorence2Finder(load(FLORENCE, florence2Options.parse({})));
    answers.push((await read.run({ image }, { signal })).text);
    answers.push(JSON.stringify((await find.run({ image, object: 'red' }, { signal })).boxes));
  } else {
    const tag = shared
      ? await registry.get('tag')
      : await createClipTagger(load(CLIP, clipOptions.parse({})));
    const [tags] = await tag.run({ images: [image], labels: ['red', 'green'] }, { signal });
    answers.push(tags?.labels.map((l) => l.label).join(',') ?? '');
    one = rss();
    const embed = shared
      ? await registry.get('embed')
      : await createClipEmbedder(load(CLIP, clipOptions.parse({})));
    answers.push(String((await embed.run({ images: [image] }, { signal })).dim));
  }
  return { base, one, all: rss(), answers };
}

function runChild(dir: string, row: Row): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--child', dir, row.family, row.mode], {
      execArgv: [...process.execArgv, '--expose-gc'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result: Measured | undefined;
    child.on('message', (m) => {
      result = m as Measured;
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      result ? resolve(result) : reject(new Error(`memory bench child exited ${code} without a result`)),
    );
  });
}

export async function run(args: string[]): Promise<void> {
  const mb = flag(args, 'mb', 256);
  const dir = await mkdtemp(join(tmpdir(), 'iris-bench-memory-'));
  try {
    await buildModels(dir, mb);
    const rows: { label: string; first: string; all: string; row: Row }[] = [
      {
        label: '(a) registry, one load per model',
        first: 'caption',
        all: '+ read + find',
        row: { family: 'florence2', mode: 'shared' },
      },
      {
        label: '(b) one load per task',
        first: 'caption',
        all: '+ read + find',
        row: { family: 'florence2', mode: 'per-task' },
      },
      {
        label: '(a) registry, one load per model',
        first: 'tag',
        all: '+ embed',
        row: { family: 'clip', mode: 'shared' },
      },
      {
        label: '(b) one load per task',
        first: 'tag',
        all: '+ embed',
        row: { family: 'clip', mode: 'per-task' },
      },
    ];
    console.log(
      `memory: RSS after the first task and after all tasks on one model, fresh process per row (Node ${process.version})`,
    );
    console.log(
      `  Florence-2: colour world + ${mb} MB of weights; CLIP: bench colour world (ViT-B/32 shapes)`,
    );
    const answers: Record<string, string> = {};
    for (const r of rows) {
      const m = await runChild(dir, r.row);
      const key = r.row.family;
      const said = m.answers.join(' | ');
      if (answers[key] !== undefined && answers[key] !== said)
        throw new Error(`${key}: the rows answered differently (${answers[key]} vs ${said})`);
      answers[key] = said;
      const line = `${r.first.padEnd(8)} ${m.one.toFixed(0).padStart(5)} MB  ${r.all.padEnd(14)} ${m.all.toFixed(0).padStart(5)} MB`;
      console.log(
        `  ${r.label.padEnd(34)} start ${m.base.toFixed(0).padStart(4)} MB  ${line}  ratio ${(m.all / m.one).toFixed(2)}×`,
      );
    }
    console.log('  goal: (a) Florence-2 ratio ≤ 1.15×; both rows of a model give the same answers');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const childAt = process.argv.indexOf('--child');
if (childAt >= 0) {
  const [dir, family, mode] = process.argv.slice(childAt + 1) as [string, Row['family'], Row['mode']];
  const result = await measure(dir, { family, mode });
  process.send?.(result, () => process.exit(0));
}

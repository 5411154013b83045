import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { env, pipeline, RawImage } from '@huggingface/transformers';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { synthAll, VOCAB } from '../../src/demo/colourworld/index.js';

const SIX: Record<string, [number, number, number]> = {
  red: [255, 0, 0],
  green: [0, 255, 0],
  blue: [0, 0, 255],
  yellow: [255, 255, 0],
  black: [0, 0, 0],
  white: [255, 255, 255],
};

async function solid([r, g, b]: [number, number, number], width = 40, height = 30): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r, g, b } } })
    .png()
    .toBuffer();
}

describe('colour-world CLIP', () => {
  let root: string;
  let dir: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'iris-cw-'));
    const ids = await synthAll(root);
    assert.ok(ids.includes('Xenova/clip-vit-base-patch32'));
    dir = join(root, 'Xenova/clip-vit-base-patch32');
    env.allowRemoteModels = false;
    env.useFSCache = false;
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('has the layout and config of Xenova/clip-vit-base-patch32', async () => {
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    assert.equal(config.model_type, 'clip');
    assert.equal(config.text_config.model_type, 'clip_text_model');
    assert.equal(config.vision_config.model_type, 'clip_vision_model');
    const pre = JSON.parse(await readFile(join(dir, 'preprocessor_config.json'), 'utf8'));
    assert.equal(pre.image_processor_type, 'CLIPImageProcessor');
    assert.deepEqual(pre.crop_size, { height: 8, width: 8 });

    const model = await ort.InferenceSession.create(join(dir, 'onnx/model.onnx'));
    assert.deepEqual([...model.inputNames].sort(), ['attention_mask', 'input_ids', 'pixel_values']);
    assert.deepEqual([...model.outputNames].sort(), [
      'image_embeds',
      'logits_per_image',
      'logits_per_text',
      'text_embeds',
    ]);
    const text = await ort.InferenceSession.create(join(dir, 'onnx/text_model.onnx'));
    assert.deepEqual([...text.inputNames], ['input_ids', 'attention_mask']);
    assert.ok(text.outputNames.includes('text_embeds'));
    const ids = text.inputMetadata[0];
    assert.ok(ids?.isTensor && ids.type === 'int64');
    assert.deepEqual(ids?.isTensor && ids.shape, ['batch_size', 'sequence_length']);
    const vision = await ort.InferenceSession.create(join(dir, 'onnx/vision_model.onnx'));
    assert.deepEqual([...vision.inputNames], ['pixel_values']);
    assert.ok(vision.outputNames.includes('image_embeds'));
    await Promise.all([model.release(), text.release(), vision.release()]);
  });

  it('ranks each of the six colours first through the transformers.js zero-shot pipeline', async () => {
    const classify = await pipeline('zero-shot-image-classification', dir, { dtype: 'fp32' });
    const labels = [...Object.keys(SIX), 'cat', 'dog'];
    for (const [name, rgb] of Object.entries(SIX)) {
      const image = await RawImage.fromBlob(new Blob([await solid(rgb)]));
      const out = (await classify(image, labels)) as { label: string; score: number }[];
      assert.equal(out[0]?.label, name, `${name}: ${JSON.stringify(out.slice(0, 3))}`);
      for (const r of out) assert.ok(Number.isFinite(r.score), `${name}: ${r.label} score ${r.score}`);
      assert.ok((out[0]?.score ?? 0) > 0.99);
    }
    // a custom template too, and a non-colour label set never yields NaN
    const image = await RawImage.fromBlob(new Blob([await solid(SIX.black as [number, number, number])]));
    const plain = (await classify(image, ['cat', 'dog'], { hypothesis_template: 'a photo of {}' })) as {
      score: number;
    }[];
    for (const r of plain) assert.ok(Number.isFinite(r.score));
    await classify.dispose();
  });

  it('tokenises the default template with BOS/EOS and the word vocabulary', async () => {
    const classify = await pipeline('zero-shot-image-classification', dir, { dtype: 'fp32' });
    const enc = classify.tokenizer('This is a photo of red');
    const ids = Array.from(enc.input_ids.data as BigInt64Array, Number);
    const v = (w: string) => VOCAB[w] as number;
    assert.deepEqual(ids, [
      v('<|startoftext|>'),
      v('this'),
      v('is'),
      v('a'),
      v('photo'),
      v('of'),
      v('red'),
      v('<|endoftext|>'),
    ]);
    // unknown words map to the unk token (EOS, as in the real CLIP tokenizer); padding uses EOS
    const batch = classify.tokenizer(['zebra', 'a red car'], { padding: true });
    const e = v('<|endoftext|>');
    assert.deepEqual(Array.from(batch.input_ids.data as BigInt64Array, Number), [
      ...[v('<|startoftext|>'), e, e, e, e],
      ...[v('<|startoftext|>'), v('a'), v('red'), v('car'), e],
    ]);
    assert.deepEqual(
      Array.from(batch.attention_mask.data as BigInt64Array, Number),
      [1, 1, 1, 0, 0, 1, 1, 1, 1, 1],
    );
    await classify.dispose();
  });
});

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  AutoProcessor,
  env,
  Florence2ForConditionalGeneration,
  type Florence2Processor,
  RawImage,
  type Tensor,
} from '@huggingface/transformers';
import * as ort from 'onnxruntime-node';
import { loadImage } from '../../src/core/media.js';
import {
  FLORENCE2_DIMS,
  FLORENCE2_TASK_PROMPTS,
  synthFlorence2,
} from '../../src/demo/colourworld/florence2.js';
import { createFlorence2Captioner } from '../../src/models/caption/florence2.js';
import { florence2Options } from '../../src/models/options.js';
import { COLOURS, solidPng } from '../fakes/images.js';

const LIMITS = { maxBytes: 1 << 24, maxPixels: 1 << 24, formats: ['png', 'jpeg', 'webp', 'gif'] } as const;
const signal = new AbortController().signal;

function tokenizerOf(processor: Florence2Processor) {
  const tokenizer = processor.tokenizer;
  if (!tokenizer) throw new Error('the processor has no tokenizer');
  return tokenizer;
}

function solidRaw([r, g, b]: [number, number, number], size = 20): RawImage {
  const px = new Uint8ClampedArray(size * size * 3);
  for (let i = 0; i < px.length; i += 3) px.set([r, g, b], i);
  return new RawImage(px, size, size, 3);
}

describe('colour-world Florence-2', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'iris-florence-'));
    await synthFlorence2(dir);
    env.allowRemoteModels = false;
    env.useFSCache = false;
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('has the layout, config and session I/O names of onnx-community/Florence-2-base-ft', async () => {
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    assert.equal(config.model_type, 'florence2');
    assert.equal(config.is_encoder_decoder, true);
    assert.equal(config.text_config.model_type, 'florence2_language');
    const pre = JSON.parse(await readFile(join(dir, 'preprocessor_config.json'), 'utf8'));
    assert.equal(pre.processor_class, 'Florence2Processor');
    assert.equal(pre.task_prompts_without_inputs['<CAPTION>'], 'What does the image describe?');
    assert.equal(pre.task_prompts_without_inputs['<OCR>'], 'What is the text in the image?');

    const open = (name: string) => ort.InferenceSession.create(join(dir, 'onnx', `${name}.onnx`));
    const vision = await open('vision_encoder');
    assert.deepEqual([...vision.inputNames], ['pixel_values']);
    assert.deepEqual([...vision.outputNames], ['image_features']);
    const embed = await open('embed_tokens');
    assert.deepEqual([...embed.inputNames], ['input_ids']);
    assert.deepEqual([...embed.outputNames], ['inputs_embeds']);
    const encoder = await open('encoder_model');
    assert.deepEqual([...encoder.inputNames], ['inputs_embeds', 'attention_mask']);
    assert.deepEqual([...encoder.outputNames], ['last_hidden_state']);
    const decoder = await open('decoder_model_merged');
    const layers = [0, 1];
    assert.deepEqual(
      [...decoder.inputNames],
      [
        'encoder_attention_mask',
        'encoder_hidden_states',
        'inputs_embeds',
        ...layers.flatMap((i) =>
          ['decoder.key', 'decoder.value', 'encoder.key', 'encoder.value'].map(
            (s) => `past_key_values.${i}.${s}`,
          ),
        ),
        'use_cache_branch',
      ],
    );
    assert.deepEqual(
      [...decoder.outputNames],
      [
        'logits',
        ...layers.flatMap((i) =>
          ['decoder.key', 'decoder.value', 'encoder.key', 'encoder.value'].map((s) => `present.${i}.${s}`),
        ),
      ],
    );
    await Promise.all([vision, embed, encoder, decoder].map((s) => s.release()));
  });

  it('tokenises the task prompts like BART: <s> … </s>, whole words with Ġ', async () => {
    const processor = (await AutoProcessor.from_pretrained(dir, {
      local_files_only: true,
    })) as Florence2Processor;
    assert.deepEqual(processor.construct_prompts('<CAPTION>'), [FLORENCE2_TASK_PROMPTS['<CAPTION>']]);
    const tokens = tokenizerOf(processor).tokenize('What does the image describe?', {
      add_special_tokens: true,
    });
    assert.deepEqual(tokens, ['<s>', 'What', 'Ġdoes', 'Ġthe', 'Ġimage', 'Ġdescribe', '?', '</s>']);
    const enc = tokenizerOf(processor)('What does the image describe?');
    const vocab = tokenizerOf(processor).get_vocab();
    assert.deepEqual(
      (enc.input_ids as Tensor).tolist()[0],
      tokens.map((t) => BigInt(vocab.get(t) as number)),
    );
    assert.deepEqual([vocab.get('<s>'), vocab.get('<pad>'), vocab.get('</s>')], [0, 1, 2]);
    // unknown words still encode (byte-level), and decode back
    const odd = tokenizerOf(processor)('zebra ünïcode');
    const back = tokenizerOf(processor).decode((odd.input_ids as Tensor).tolist()[0] as bigint[], {
      skip_special_tokens: true,
    });
    assert.equal(back, 'zebra ünïcode');
  });

  it('captions every colour with its word through transformers.js generate(), for all three task prompts', async () => {
    const model = await Florence2ForConditionalGeneration.from_pretrained(dir, {
      dtype: 'fp32',
      local_files_only: true,
    });
    const processor = (await AutoProcessor.from_pretrained(dir, {
      local_files_only: true,
    })) as Florence2Processor;
    const rgb: Record<string, [number, number, number]> = {
      red: [250, 10, 10],
      green: [0, 200, 30],
      blue: [20, 20, 240],
      yellow: [240, 240, 0],
      cyan: [0, 230, 230],
      magenta: [230, 0, 230],
      black: [10, 10, 10],
      white: [250, 250, 250],
    };
    for (const [colour, value] of Object.entries(rgb)) {
      for (const task of ['<CAPTION>', '<DETAILED_CAPTION>', '<MORE_DETAILED_CAPTION>', '<OCR>']) {
        const inputs = await processor(solidRaw(value), task);
        const ids = (await model.generate({ ...inputs, max_new_tokens: 60 })) as Tensor;
        const text = processor.batch_decode(ids, { skip_special_tokens: false })[0] as string;
        assert.match(text, /^<\/s><s>.*<\/s>$/, text);
        const answer = processor.post_process_generation(text, task, [20, 20])[task] as string;
        if (task === '<OCR>') assert.equal(answer, colour);
        else assert.match(answer, new RegExp(`\\b${colour}\\b`), `${task} ${colour}: ${answer}`);
        if (task === '<CAPTION>') assert.equal(answer, `A solid ${colour} image.`);
      }
    }
    await model.dispose();
  });

  it('an unknown task prompt ends at once with an empty answer', async () => {
    const model = await Florence2ForConditionalGeneration.from_pretrained(dir, {
      dtype: 'fp32',
      local_files_only: true,
    });
    const processor = (await AutoProcessor.from_pretrained(dir, {
      local_files_only: true,
    })) as Florence2Processor;
    const inputs = await processor(solidRaw([255, 0, 0]), '<OD>');
    const ids = (await model.generate({ ...inputs, max_new_tokens: 20 })) as Tensor;
    assert.equal(processor.batch_decode(ids, { skip_special_tokens: false })[0], '</s><s></s>');
    await model.dispose();
  });

  it('the decoder reads its position from the self-attention cache: a wrong cache gives a different token', async () => {
    const decoder = await ort.InferenceSession.create(join(dir, 'onnx/decoder_model_merged.onnx'));
    const S = 3;
    const { hidden: D, heads: H, headDim: Dh } = FLORENCE2_DIMS;
    const states = new Float32Array(S * D);
    states[0] = 60; // colour score of red on the image token
    states[D + 8] = 1; // the <CAPTION> flag on a prompt token
    const feeds = (pastLen: number): Record<string, ort.Tensor> => {
      const f: Record<string, ort.Tensor> = {
        encoder_attention_mask: new ort.Tensor('int64', BigInt64Array.from([1n, 1n, 1n]), [1, S]),
        encoder_hidden_states: new ort.Tensor('float32', states, [1, S, D]),
        inputs_embeds: new ort.Tensor('float32', new Float32Array(D), [1, 1, D]),
        use_cache_branch: new ort.Tensor('bool', [false], [1]),
      };
      for (const i of [0, 1]) {
        for (const k of ['key', 'value']) {
          f[`past_key_values.${i}.decoder.${k}`] = new ort.Tensor(
            'float32',
            new Float32Array(H * pastLen * Dh),
            [1, H, pastLen, Dh],
          );
          f[`past_key_values.${i}.encoder.${k}`] = new ort.Tensor('float32', new Float32Array(0), [
            1,
            H,
            0,
            Dh,
          ]);
        }
      }
      return f;
    };
    const argmax = async (pastLen: number) => {
      const out = await decoder.run(feeds(pastLen));
      const logits = out.logits as ort.Tensor;
      const data = logits.data as Float32Array;
      assert.deepEqual(out['present.0.decoder.key']?.dims, [1, H, pastLen + 1, Dh]);
      assert.deepEqual(out['present.1.encoder.value']?.dims, [1, H, S, Dh]);
      return data.indexOf(Math.max(...data));
    };
    const processor = (await AutoProcessor.from_pretrained(dir, {
      local_files_only: true,
    })) as Florence2Processor;
    const byId = new Map([...tokenizerOf(processor).get_vocab()].map(([t, i]) => [i, t]));
    const token = async (pastLen: number) => byId.get(await argmax(pastLen));
    assert.equal(await token(0), '<s>');
    assert.equal(await token(1), 'A');
    assert.equal(await token(2), 'Ġsolid');
    assert.equal(await token(3), 'Ġred');
    assert.equal(await token(5), '.');
    assert.equal(await token(6), '</s>');
    await decoder.release();
  });

  it('through the caption backend: short, detailed and more detailed captions name the colour', async () => {
    const backend = await createFlorence2Captioner({
      modelDir: dir,
      modelId: 'onnx-community/Florence-2-base-ft',
      executionProviders: ['cpu'],
      options: florence2Options.parse({}),
    });
    for (const [name, hex] of Object.entries(COLOURS)) {
      const image = await loadImage(`${name}.png`, await solidPng(hex, 48), LIMITS);
      const short = await backend.run({ image }, { signal });
      assert.equal(short.caption, `A solid ${name} image.`);
      const long = await backend.run({ image, detail: 'more_detailed' }, { signal });
      assert.match(long.caption, new RegExp(`The colour is ${name},`));
    }
    const cancelled = new AbortController();
    cancelled.abort();
    const image = await loadImage('red.png', await solidPng('#f00'), LIMITS);
    await assert.rejects(backend.run({ image }, { signal: cancelled.signal }), { code: 'cancelled' });
    await backend.dispose();
    await assert.rejects(backend.run({ image }, { signal }), { code: 'disposed' });
  });

  it('a folder that is not Florence-2, or a missing session file, is a clear model_missing error', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'iris-florence-empty-'));
    await assert.rejects(
      createFlorence2Captioner({
        modelDir: empty,
        modelId: 'x',
        executionProviders: ['cpu'],
        options: florence2Options.parse({}),
      }),
      (e: Error & { code?: string }) =>
        e.code === 'model_missing' && /cannot load the Florence-2 model/.test(e.message),
    );
    await assert.rejects(
      createFlorence2Captioner({
        modelDir: dir,
        modelId: 'x',
        executionProviders: ['cpu'],
        options: florence2Options.parse({ dtype: 'q4' }),
      }),
      (e: Error & { code?: string }) => e.code === 'model_missing' && /_q4\.onnx|q4/.test(e.message),
    );
    await rm(empty, { recursive: true, force: true });
  });
});

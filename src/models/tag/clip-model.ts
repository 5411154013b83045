/**
 * The part of a CLIP folder (`Xenova/clip-vit-base-patch32` layout) that the tag and embed backends
 * share: tokenizer, preprocessing and the two tower sessions, loaded once (see ../shared-models.ts).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PreTrainedTokenizer } from '@huggingface/transformers';
import * as ort from 'onnxruntime-node';
import { BackendError, UserError } from '../../errors.js';
import { CLIP_SESSIONS, type DtypeChoice, onnxFiles } from '../files.js';
import { makeLut, parsePreprocessorConfig } from './clip-preprocess.js';

async function readJson(dir: string, name: string): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await readFile(join(dir, name), 'utf8'));
  } catch (cause) {
    throw new UserError('model_missing', `the CLIP model folder ${dir} has no readable ${name}`, { cause });
  }
}

/** What tag and embed share of a CLIP folder: tokenizer, preprocessing and the two tower sessions. */
export interface LoadedClip {
  tokenizer: PreTrainedTokenizer;
  pre: ReturnType<typeof parsePreprocessorConfig>;
  lut: ReturnType<typeof makeLut>;
  text: ort.InferenceSession;
  vision: ort.InferenceSession;
  /** Text-tower input name → element type. */
  textInputs: Map<string, string>;
  textOut: string;
  visionIn: string;
  visionOut: string;
  pixelType: 'float32' | 'float16';
  release(): Promise<void>;
}

export async function openClip(
  dir: string,
  dtype: DtypeChoice,
  sessionOptions: ort.InferenceSession.SessionOptions,
): Promise<LoadedClip> {
  const [tokJson, tokConfig, preConfig] = await Promise.all([
    readJson(dir, 'tokenizer.json'),
    readJson(dir, 'tokenizer_config.json'),
    readJson(dir, 'preprocessor_config.json'),
  ]);
  const tokenizer = new PreTrainedTokenizer(tokJson, tokConfig);
  const pre = parsePreprocessorConfig(preConfig);
  const lut = makeLut(pre);
  const open = async (file: string) => {
    const path = join(dir, file);
    try {
      return await ort.InferenceSession.create(path, sessionOptions);
    } catch (cause) {
      throw new UserError('model_missing', `cannot load ${path}: ${(cause as Error).message}`, { cause });
    }
  };
  const [textFile = '', visionFile = ''] = onnxFiles(CLIP_SESSIONS, dtype);
  const opened = await Promise.allSettled([open(textFile), open(visionFile)]);
  const [textResult, visionResult] = opened;
  if (textResult.status === 'rejected' || visionResult.status === 'rejected') {
    await Promise.all(opened.map((r) => (r.status === 'fulfilled' ? r.value.release() : undefined)));
    throw textResult.status === 'rejected'
      ? textResult.reason
      : (visionResult as PromiseRejectedResult).reason;
  }
  const text = textResult.value;
  const vision = visionResult.value;
  const release = () => Promise.all([text.release(), vision.release()]).then(() => undefined);

  const textInputs = new Map(text.inputMetadata.map((m) => [m.name, m.isTensor ? m.type : 'int64'] as const));
  const textOut = text.outputNames.includes('text_embeds') ? 'text_embeds' : (text.outputNames[0] as string);
  const visionIn = vision.inputNames.includes('pixel_values')
    ? 'pixel_values'
    : (vision.inputNames[0] as string);
  const visionOut = vision.outputNames.includes('image_embeds')
    ? 'image_embeds'
    : (vision.outputNames[0] as string);
  const visionMeta = vision.inputMetadata.find((m) => m.name === visionIn);
  const pixelType = visionMeta?.isTensor ? visionMeta.type : 'float32';
  if (pixelType !== 'float32' && pixelType !== 'float16') {
    await release();
    throw new BackendError('bad_model', `tag/clip: unsupported pixel_values type ${pixelType}`, {
      isRetryable: false,
    });
  }
  // A fixed input size (the usual case) wins over preprocessor_config when they disagree.
  const fixedH = visionMeta?.isTensor ? visionMeta.shape[2] : undefined;
  const fixedW = visionMeta?.isTensor ? visionMeta.shape[3] : undefined;
  if (
    typeof fixedH === 'number' &&
    typeof fixedW === 'number' &&
    (!pre.crop || pre.crop.width !== fixedW || pre.crop.height !== fixedH)
  ) {
    pre.crop = { width: fixedW, height: fixedH };
  }
  return { tokenizer, pre, lut, text, vision, textInputs, textOut, visionIn, visionOut, pixelType, release };
}

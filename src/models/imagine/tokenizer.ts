/**
 * The CLIP tokenizer of a Stable Diffusion folder, run by @huggingface/transformers (no hand-written BPE).
 *
 * Diffusers' `tokenizer/` folder has vocab.json + merges.txt and no tokenizer.json; transformers.js reads
 * only tokenizer.json. `clipTokenizerJson` builds the tokenizer.json that Hugging Face `tokenizers`
 * produces for CLIPTokenizerFast (NFC + whitespace collapse + lowercase; CLIP's split regex + byte-level
 * pre-tokenizer; BPE with `</w>` end-of-word suffix; `<|startoftext|> … <|endoftext|>` around the text).
 * When the folder ships a tokenizer.json it is used as is.
 *
 * Prompts are padded to `model_max_length` (77) with the folder's pad token: `<|endoftext|>` for SD 1.x,
 * `!` for SD 2.x / SD-Turbo (tokenizer_config.json says which), and truncated to it.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PreTrainedTokenizer } from '@huggingface/transformers';
import { UserError } from '../../errors.js';

export const BOS = '<|startoftext|>';
export const EOS = '<|endoftext|>';

/** GPT-2/CLIP byte → printable unicode character table (bytes_to_unicode). */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const table = new Array<string>(256);
  bs.forEach((b, i) => {
    table[b] = String.fromCharCode(cs[i] as number);
  });
  return table;
}

/** tokenizer.json (Hugging Face tokenizers format) for CLIP from vocab.json + merges.txt lines. */
export function clipTokenizerJson(vocab: Record<string, number>, merges: readonly string[]) {
  const special = (content: string) => ({
    id: vocab[content],
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: true,
    special: true,
  });
  for (const t of [BOS, EOS]) {
    if (vocab[t] === undefined) throw new Error(`CLIP vocab has no ${t}`);
  }
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(BOS), special(EOS)],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'NFC' },
        { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' },
        { type: 'Lowercase' },
      ],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        {
          type: 'Split',
          pattern: {
            Regex:
              "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+",
          },
          behavior: 'Removed',
          invert: true,
        },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: {
      type: 'RobertaProcessing',
      sep: [EOS, vocab[EOS]],
      cls: [BOS, vocab[BOS]],
      trim_offsets: false,
      add_prefix_space: false,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: EOS,
      continuing_subword_prefix: '',
      end_of_word_suffix: '</w>',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: [...merges],
    },
  };
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (cause) {
    throw new UserError('model_missing', `the model folder has no readable ${path}`, { cause });
  }
}

export interface PromptTokenizer {
  /** Token ids, padded/truncated to `length`, one row per text. */
  encode(texts: string[]): { ids: number[][]; truncated: boolean[] };
  readonly length: number;
}

/** Loads `<modelDir>/tokenizer/` (tokenizer.json, or vocab.json + merges.txt) with transformers.js. */
export async function loadClipTokenizer(modelDir: string): Promise<PromptTokenizer> {
  const dir = join(modelDir, 'tokenizer');
  const config = existsSync(join(dir, 'tokenizer_config.json'))
    ? await readJson(join(dir, 'tokenizer_config.json'))
    : {};
  let json: Record<string, unknown>;
  if (existsSync(join(dir, 'tokenizer.json'))) json = await readJson(join(dir, 'tokenizer.json'));
  else {
    const vocab = (await readJson(join(dir, 'vocab.json'))) as Record<string, number>;
    let mergesText: string;
    try {
      mergesText = await readFile(join(dir, 'merges.txt'), 'utf8');
    } catch (cause) {
      throw new UserError('model_missing', `the model folder has no readable ${join(dir, 'merges.txt')}`, {
        cause,
      });
    }
    // first line is "#version: 0.2"; blank lines are not merges
    const merges = mergesText.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#version'));
    json = clipTokenizerJson(vocab, merges);
  }
  const padToken = typeof config.pad_token === 'string' ? config.pad_token : EOS;
  const maxLength =
    typeof config.model_max_length === 'number' && config.model_max_length <= 1024
      ? config.model_max_length
      : 77;
  const tokenizer = new PreTrainedTokenizer(json, {
    tokenizer_class: 'CLIPTokenizer',
    ...config,
    pad_token: padToken,
    model_max_length: maxLength,
  });
  const vocab = tokenizer.get_vocab();
  const padId = vocab.get(padToken);
  const eosId = vocab.get(EOS);
  if (padId === undefined || eosId === undefined) {
    throw new UserError(
      'model_missing',
      `the tokenizer in ${dir} has no ${padId === undefined ? padToken : EOS} token`,
    );
  }
  return {
    length: maxLength,
    encode(texts) {
      const ids: number[][] = [];
      const truncated: boolean[] = [];
      for (const text of texts) {
        const full = tokenizer.encode(text) as number[];
        let row = full;
        if (full.length > maxLength) row = [...full.slice(0, maxLength - 1), eosId];
        truncated.push(full.length > maxLength);
        ids.push([...row, ...new Array<number>(maxLength - row.length).fill(padId)]);
      }
      return { ids, truncated };
    },
  };
}

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PreTrainedTokenizer } from '@huggingface/transformers';
import { specialTokensOf, tokenStripper, toUserText, userTextFilter } from '../../src/models/user-text.js';

const NONE = { specialTokens: [] };

test('Florence-2 location, task and polygon tokens are removed without a tokenizer', () => {
  assert.equal(toUserText('Blue<loc_50><loc_669><loc_564><loc_980><loc_901>', NONE), 'Blue');
  assert.equal(toUserText('<OD>a car<loc_1><loc_2></od>', NONE), 'a car');
  assert.equal(toUserText('<poly>red<loc_3></poly><sep>blue', NONE), 'red blue');
  assert.equal(toUserText('<CAPTION_TO_PHRASE_GROUNDING>a dog', NONE), 'a dog');
});

test('chat markers are removed without a tokenizer', () => {
  assert.equal(toUserText('<|im_start|>assistant\nIt is red.<|im_end|>', NONE), 'It is red.');
  assert.equal(toUserText('<|start_header_id|>assistant<|end_header_id|>\n\nRed.<|eot_id|>', NONE), 'Red.');
  const chatml = { specialTokens: ['<|im_start|>', '<|im_end|>'] };
  assert.equal(toUserText('<|im_start|>assistant It is red.<|im_end|>', chatml), 'It is red.');
  // Only right after a turn marker is a role name dropped.
  assert.equal(toUserText('The assistant is red.', NONE), 'The assistant is red.');
  assert.equal(toUserText('Red.<|eot_id|>', NONE), 'Red.');
  assert.equal(toUserText('Red.<｜end▁of▁sentence｜>', NONE), 'Red.');
});

test('a removed token between words leaves a space; next to punctuation it leaves nothing', () => {
  assert.equal(toUserText('Blue<loc_1>sky', NONE), 'Blue sky');
  assert.equal(toUserText('A red car<loc_1>.', NONE), 'A red car.');
  assert.equal(toUserText('𝐀<loc_1>𝐁 😀<loc_2>!', NONE), '𝐀 𝐁 😀!');
});

test('the given special tokens are removed wherever they are, longest first', () => {
  const o = { specialTokens: ['<s>', '</s>', '<pad>', '<end_of_utterance>', '<image>', '<image_1>'] };
  assert.equal(toUserText('</s><s>It is<end_of_utterance> red.</s><pad><pad>', o), 'It is red.');
  assert.equal(toUserText('<image_1><image>a cat', o), 'a cat');
});

test('whitespace is collapsed and trimmed; text with nothing but tokens becomes empty', () => {
  assert.equal(toUserText('  two\n\nlines\t here ', NONE), 'two lines here');
  assert.equal(toUserText('<loc_1><loc_2></s>', { specialTokens: ['</s>'] }), '');
});

test('keepLines keeps paragraphs and list lines, collapsing spaces within them', () => {
  const text =
    '<|im_start|>assistant\n  Two  colours:\r\n- red<|eot_id|>\n-\tblue\n\n\n\nThat is all.  \n<|im_end|>';
  assert.equal(toUserText(text, { ...NONE, keepLines: true }), 'Two colours:\n- red\n- blue\n\nThat is all.');
  assert.equal(toUserText(text, NONE), 'Two colours: - red - blue That is all.');
});

test('ordinary text, angle brackets and lookalikes are kept', () => {
  assert.equal(toUserText('3 < 4 and 5 > 2', NONE), '3 < 4 and 5 > 2');
  assert.equal(
    toUserText('a <b>bold</b> word and <location> tag', NONE),
    'a <b>bold</b> word and <location> tag',
  );
  assert.equal(toUserText('a | b | c', NONE), 'a | b | c');
  // Regex characters in a token are literal; whitespace-only tokens do not eat spaces.
  assert.equal(toUserText('a.b [x] c', { specialTokens: ['.', '[x]', ' ', ''] }), 'a b c');
});

test('userTextFilter compiles once and gives the same result as toUserText', () => {
  const o = { specialTokens: ['<end_of_utterance>'] };
  const clean = userTextFilter(o);
  for (const t of ['Red<end_of_utterance>', 'x<loc_5>y', '']) assert.equal(clean(t), toUserText(t, o));
});

test('tokenStripper removes exactly the given tokens, keeping the rest and the spacing', () => {
  const strip = tokenStripper(['<pad>', '</s>', '[x]', '']);
  assert.equal(strip('</s><pad>red car<loc_1><loc_2>  [x].'), 'red car<loc_1><loc_2>  .');
  assert.equal(tokenStripper([])('a <pad> b'), 'a <pad> b');
});

function tokenizer(): PreTrainedTokenizer {
  const vocab: Record<string, number> = { '<unk>': 0, red: 1, blue: 2, hello: 3 };
  const added = [
    { id: 4, content: '<s>', special: true },
    { id: 5, content: '</s>', special: true },
    { id: 6, content: '<end_of_utterance>', special: true },
    { id: 7, content: '<image>', special: false },
    { id: 8, content: '<fake_token_around_image>', special: false },
    { id: 9, content: 'hello', special: false },
  ];
  const json = {
    version: '1.0',
    normalizer: null,
    pre_tokenizer: { type: 'WhitespaceSplit' },
    post_processor: null,
    decoder: null,
    model: { type: 'WordLevel', vocab, unk_token: '<unk>' },
    added_tokens: added,
  };
  const config = {
    tokenizer_class: 'PreTrainedTokenizer',
    bos_token: '<s>',
    eos_token: '</s>',
    unk_token: '<unk>',
    additional_special_tokens: ['<row_1_col_1>', { content: '<global-img>' }],
  };
  return new PreTrainedTokenizer(json, config);
}

test('specialTokensOf lists a transformers.js tokenizer’s special and added tokens, not plain words', () => {
  const tokens = specialTokensOf(tokenizer());
  assert.deepEqual([...tokens].sort(), [
    '</s>',
    '<end_of_utterance>',
    '<fake_token_around_image>',
    '<global-img>',
    '<image>',
    '<row_1_col_1>',
    '<s>',
  ]);
  assert.equal(
    toUserText('<s>hello <image><fake_token_around_image>red<end_of_utterance></s>', {
      specialTokens: tokens,
    }),
    'hello red',
  );
});

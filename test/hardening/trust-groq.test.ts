/**
 * The Groq (OpenAI-compatible) backend reports a confidence when the server returns token
 * log-probabilities (option `logprobs: true`), and /ask adds the "may be wrong" hint when it is low.
 * Without the option nothing is asked for and the confidence is absent (Groq's models offer none today).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { LOW_CONFIDENCE_HINT } from '../../src/commands/ask.js';
import { loadConfig } from '../../src/config.js';
import type { Reply } from '../../src/contracts/request.js';
import { ModelRegistry } from '../../src/models/registry.js';
import { meanTokenProbability } from '../../src/models/vqa/groq.js';
import { testDispatcher } from '../fakes/dispatcher.js';
import { solidPng } from '../fakes/images.js';
import { completion, type FakeResponse, startFakeOpenAI } from '../fakes/openai.js';
import { RecordingResponder } from '../fakes/responder.js';
import { SECRETS } from '../fakes/secrets.js';

let fake: Awaited<ReturnType<typeof startFakeOpenAI>>;
before(async () => {
  fake = await startFakeOpenAI({ apiKey: SECRETS.groqKey });
});
after(() => fake.close());

/** A completion carrying per-token log-probabilities, as OpenAI-compatible servers send them. */
function withLogprobs(content: string, logprobs: number[]): FakeResponse {
  const base = completion(content).body as { choices: Record<string, unknown>[] };
  const choice = base.choices[0] as Record<string, unknown>;
  choice.logprobs = {
    content: logprobs.map((logprob, i) => ({ token: `t${i}`, logprob, bytes: null, top_logprobs: [] })),
  };
  return { body: base };
}

async function ask(options: Record<string, unknown>): Promise<Reply> {
  const config = loadConfig({
    env: { GROQ_API_KEY: SECRETS.groqKey, GROQ_BASE_URL: fake.url },
    overrides: {
      'memory.store': 'memory',
      'tasks.vqa': { backend: 'groq', model: 'meta-llama/llama-4-maverick-17b-128e-instruct', options },
    },
  });
  const { dispatcher, scheduler } = testDispatcher({
    config,
    registry: new ModelRegistry({
      modelsDir: config.models.dir,
      executionProviders: ['cpu'],
      tasks: config.tasks,
      providers: { groq: config.providers.groq },
    }),
  });
  const res = new RecordingResponder();
  await dispatcher.handle(
    {
      id: 'g',
      platform: 'test',
      command: 'ask',
      args: { question: 'what colour is it?' },
      images: [{ name: 'r.png', data: await solidPng('#ff0000') }],
      conversation: 'test:groq',
      user: { id: 'u' },
      signal: new AbortController().signal,
    },
    res,
  );
  await scheduler.stop();
  return res.reply;
}

test('mean token probability from logprobs', () => {
  assert.equal(meanTokenProbability(undefined), undefined);
  assert.equal(meanTokenProbability({ content: null }), undefined);
  assert.equal(meanTokenProbability({ content: [] }), undefined);
  assert.ok(
    Math.abs((meanTokenProbability({ content: [{ logprob: 0 }, { logprob: -2 }] }) ?? 0) - Math.exp(-1)) <
      1e-12,
  );
});

test('logprobs on: a sure answer has no hint, an unsure one has it; the request asked for logprobs', async () => {
  fake.script(withLogprobs('red', [-0.01, -0.02]), withLogprobs('maybe red', [-2.5, -3]));
  const sure = await ask({ logprobs: true });
  assert.equal(sure.text, 'red');
  assert.ok(((sure.data as { confidence: number }).confidence ?? 0) > 0.95);
  const unsure = await ask({ logprobs: true });
  assert.equal(unsure.text, `maybe red\n${LOW_CONFIDENCE_HINT}`);
  assert.ok((unsure.data as { confidence: number }).confidence < 0.1);
  assert.equal(fake.requests.at(-1)?.body.logprobs, true);
});

test('logprobs off (default): not asked for, no confidence, no hint', async () => {
  fake.script(withLogprobs('red', [-5]));
  const reply = await ask({});
  assert.equal(reply.text, 'red');
  assert.equal((reply.data as { confidence?: number }).confidence, undefined);
  assert.equal(fake.requests.at(-1)?.body.logprobs, undefined);
});

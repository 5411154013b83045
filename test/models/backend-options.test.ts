import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';
import type { TaskName } from '../../src/contracts/backend.js';
import { UserError } from '../../src/errors.js';
import { resolveTargets } from '../../src/models/hub/manager.js';
import { clipOptions, florence2Options, groqOptions, tesseractOptions } from '../../src/models/options.js';
import { ModelRegistry } from '../../src/models/registry.js';
import { defineBackend, type TaskEntry, type TaskTable } from '../../src/models/table.js';
import { TASKS } from '../../src/models/tasks.js';
import type { BackendLoadOptions } from '../../src/models/types.js';
import { runIris } from '../fakes/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'iris-options-'));
let files = 0;
function yamlFile(text: string): string {
  const file = join(dir, `config-${files++}.yaml`);
  writeFileSync(file, text);
  return file;
}

/** loadConfig on `yaml` throws a ConfigError whose message matches every pattern. */
function refused(yaml: string, ...expected: RegExp[]): void {
  assert.throws(
    () => loadConfig({ file: yamlFile(yaml), env: {} }),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      for (const pattern of expected) assert.match(e.message, pattern);
      return true;
    },
  );
}

describe('backend options at config load', () => {
  it('a bad option of each backend kind stops load, naming the key, the value and what was expected', () => {
    const cases: [string, string, RegExp][] = [
      [
        'clip (tag)',
        'tag:\n    options: { batchSize: 0 }',
        /tasks\.tag\.options\.batchSize: expected a positive integer — got 0/,
      ],
      [
        'clip (embed)',
        'embed:\n    options: { dtype: q9 }',
        /tasks\.embed\.options\.dtype: expected one of fp32, fp16, q8, int8, uint8, q4, q4f16, bnb4, or a map session → dtype \(sessions: text_model, vision_model\) — got "q9"/,
      ],
      [
        'florence2 (caption)',
        'caption:\n    options: { maxNewTokens: 1.5 }',
        /tasks\.caption\.options\.maxNewTokens: expected a positive integer — got 1\.5/,
      ],
      [
        'florence2 (read)',
        'read:\n    backend: florence2\n    model: onnx-community/Florence-2-base-ft\n    options: { dtype: { decoder: q8 } }',
        /tasks\.read\.options\.dtype: .*sessions: vision_encoder, embed_tokens, encoder_model, decoder_model_merged\) — got \{"decoder":"q8"\}/,
      ],
      [
        'florence2 (find)',
        'find:\n    options: { maxNewTokens: many }',
        /tasks\.find\.options\.maxNewTokens: expected a positive integer — got "many"/,
      ],
      [
        'smolvlm',
        'vqa:\n    options: { maxNewTokens: -3 }',
        /tasks\.vqa\.options\.maxNewTokens: expected a positive integer — got -3/,
      ],
      [
        'blip2',
        'vqa:\n    backend: blip2\n    options: { maxPromptTokens: 4 }',
        /tasks\.vqa\.options\.maxPromptTokens: expected a whole number ≥ 8 — got 4/,
      ],
      [
        'groq',
        'vqa:\n    backend: groq\n    options: { temperature: 5 }',
        /tasks\.vqa\.options\.temperature: expected a number ≥ 0 and ≤ 2 — got 5/,
      ],
      [
        'tesseract',
        'read:\n    options: { psm: 14 }',
        /tasks\.read\.options\.psm: expected a whole number from 0 to 13 — got 14/,
      ],
      [
        'sd',
        'imagine:\n    options: { graphOptimizationLevel: max }',
        /tasks\.imagine\.options\.graphOptimizationLevel: expected disabled, basic, extended or all — got "max"/,
      ],
    ];
    for (const [kind, task, expected] of cases) {
      assert.throws(
        () => loadConfig({ file: yamlFile(`tasks:\n  ${task}\n`), env: {} }),
        (e: unknown) => e instanceof ConfigError && expected.test(e.message),
        kind,
      );
    }
  });

  it('an unknown option key is refused (a misspelt option would do nothing); so are hooks from YAML', () => {
    refused(
      'tasks:\n  caption:\n    options: { maxTokens: 10 }\n',
      /tasks\.caption\.options: unknown key maxTokens/,
    );
    refused(
      'tasks:\n  tag:\n    options: { hooks: { onTextRun: 1 } }\n',
      /tasks\.tag\.options\.hooks: hooks are functions that tests and benches pass/,
    );
  });

  it('every problem is listed, one line each', () => {
    refused(
      'tasks:\n  vqa:\n    options: { maxNewTokens: 0, featureCache: yes }\n  tag:\n    options: { template: 3 }\n',
      /invalid config \(.*\):\n {2}tasks\.tag\.options\.template: expected text — got 3\n {2}tasks\.vqa\.options\.maxNewTokens: .*\n {2}tasks\.vqa\.options\.featureCache: expected true or false — got "yes"$/,
    );
  });

  it('an unknown backend is refused at load, listing the valid ones', () => {
    refused(
      'tasks:\n  vqa:\n    backend: blip\n',
      /^invalid config \(.*\): tasks\.vqa\.backend: unknown backend; valid backends: blip2, smolvlm or groq — got "blip"$/,
    );
  });

  it("default.yaml's options belong to its backend: a later layer that picks another backend starts from none", () => {
    const groq = loadConfig({ file: yamlFile('tasks:\n  vqa:\n    backend: groq\n'), env: {} });
    assert.deepEqual(groq.tasks.vqa.options, {});
    const blip2 = loadConfig({
      file: yamlFile('tasks:\n  vqa:\n    backend: blip2\n    options: { featureCacheSize: 4 }\n'),
      env: {},
    });
    assert.deepEqual(blip2.tasks.vqa.options, { featureCacheSize: 4 });
    // The same backend keeps default.yaml's options under the file's.
    const smol = loadConfig({
      file: yamlFile('tasks:\n  vqa:\n    options: { maxNewTokens: 64 }\n'),
      env: {},
    });
    assert.equal(smol.tasks.vqa.options.maxNewTokens, 64);
    assert.equal(smol.tasks.vqa.options.featureCacheSize, 8);
    refused(
      'tasks:\n  vqa:\n    backend: groq\n    options: { dtype: q8 }\n',
      /tasks\.vqa\.options: unknown key dtype/,
    );
    const overridden = loadConfig({ env: {}, overrides: { 'tasks.read.backend': 'florence2' } });
    assert.deepEqual(overridden.tasks.read.options, {});
  });
});

describe('backend options in the registry', () => {
  it("every backend's options have defaults for every key it needs", () => {
    for (const [task, row] of Object.entries(TASKS) as [TaskName, TaskEntry<TaskName>][]) {
      for (const [backend, entry] of Object.entries(row.backends)) {
        assert.ok(entry.options.safeParse({}).success, `${task}/${backend}`);
      }
    }
    assert.deepEqual(
      { ...clipOptions.parse({}), hooks: undefined },
      {
        template: 'a photo of {}',
        logitScale: 100,
        batchSize: 8,
        dtype: 'fp32',
        intraOpNumThreads: 0,
        graphOptimizationLevel: 'all',
        textCacheSize: 4096,
        hooks: undefined,
      },
    );
    assert.deepEqual(florence2Options.parse({}), { dtype: 'fp32', maxNewTokens: 256, hooks: {} });
    assert.deepEqual(tesseractOptions.parse({}), { maxSide: 3000, psm: 3, dpi: 300 });
    assert.equal(groqOptions.parse({}).maxImageBytes, 3 * 1024 * 1024);
  });

  const models = mkdtempSync(join(tmpdir(), 'iris-options-models-'));
  mkdirSync(join(models, 'org/m'), { recursive: true });
  writeFileSync(join(models, 'org/m', 'config.json'), '{}');

  function capturing() {
    const loads: BackendLoadOptions<unknown>[] = [];
    const table: TaskTable = {
      caption: {
        description: 'test',
        queue: 'gpu',
        backends: {
          florence2: defineBackend({
            defaultModel: 'org/m',
            options: florence2Options,
            load: async () => async (opts) => {
              loads.push(opts);
              return {
                task: 'caption',
                id: 'florence2',
                model: opts.modelId,
                run: async () => ({ caption: '' }),
                dispose: async () => {},
              };
            },
          }),
        },
      },
    };
    return { loads, table };
  }

  it('the factory receives typed options with the defaults filled in', async () => {
    const t = capturing();
    const reg = new ModelRegistry({
      modelsDir: models,
      executionProviders: ['cpu'],
      tasks: {
        caption: { backend: 'florence2', model: 'org/m', options: { dtype: { decoder_model_merged: 'q4' } } },
      },
      table: t.table,
    });
    await reg.get('caption');
    assert.deepEqual(t.loads[0]?.options, {
      dtype: { decoder_model_merged: 'q4' },
      maxNewTokens: 256,
      hooks: {},
    });
  });

  it('a per-request override is checked like config: a bad one loads nothing and names the key', async () => {
    const t = capturing();
    const reg = new ModelRegistry({
      modelsDir: models,
      executionProviders: ['cpu'],
      tasks: {},
      table: t.table,
    });
    for (const [options, expected] of [
      [{ maxNewTokens: 0 }, /tasks\.caption\.options\.maxNewTokens: expected a positive integer/],
      [{ dtyp: 'q8' }, /tasks\.caption\.options: unknown key dtyp/],
    ] as const) {
      await assert.rejects(reg.get('caption', { options }), (e: unknown) => {
        assert.ok(e instanceof UserError);
        assert.equal(e.code, 'bad_option');
        assert.match(e.message, expected);
        return true;
      });
    }
    assert.equal(t.loads.length, 0);
    await reg.get('caption', { options: { maxNewTokens: 12 } });
    assert.deepEqual(t.loads[0]?.options, { dtype: 'fp32', maxNewTokens: 12, hooks: {} });
  });

  it('`models pull --dtype` profiles only backends with a dtype option, through their schema', () => {
    const blip2 = loadConfig({
      env: {},
      overrides: { 'tasks.vqa': { backend: 'blip2', model: 'Salesforce/blip2-opt-2.7b', options: {} } },
    });
    const targets = resolveTargets(blip2, ['vqa', 'tag'], undefined, { dtype: 'q8' });
    assert.equal(targets.find((t) => t.backend === 'blip2')?.profile, undefined);
    assert.deepEqual(
      targets.find((t) => t.backend === 'clip')?.profile?.files.required.filter((f) => f.endsWith('.onnx')),
      ['onnx/text_model_quantized.onnx', 'onnx/vision_model_quantized.onnx'],
    );
  });
});

describe('a bad option stops the real CLI', () => {
  it('`iris start` exits 2 with the key before it connects anywhere', async () => {
    const file = yamlFile('tasks:\n  vqa:\n    options: { maxNewTokens: 0 }\n');
    const res = await runIris(['start'], { env: { ...process.env, IRIS_CONFIG: file } });
    assert.equal(res.code, 2, res.stderr);
    assert.match(
      res.stderr.trim(),
      /^error: invalid config \(.*\): tasks\.vqa\.options\.maxNewTokens: expected a positive integer — got 0$/,
    );
  });
});

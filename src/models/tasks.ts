/**
 * The one table of what this build can do: tasks → backends → default models, model files, option schemas
 * (options.ts) and the scheduler queue their jobs run on. The registry (registry.ts) loads from it.
 */
import type { TaskName } from '../contracts/backend.js';
import { blip2Files, clipFiles, florence2Files, sdFiles, smolVlmFiles } from './files.js';
import {
  blip2Options,
  clipOptions,
  florence2Options,
  groqOptions,
  nsfwjsOptions,
  sdOptions,
  smolVlmOptions,
  tesseractOptions,
} from './options.js';
import { defineBackend, type TaskEntry, type TaskTable } from './table.js';

/**
 * The one table of tasks → backends → default models and option schemas (options.ts). A task without a row
 * answers "not available in this build".
 */
export const TASKS = {
  tag: {
    description: 'zero-shot image tagging',
    queue: 'encoder',
    backends: {
      clip: defineBackend({
        defaultModel: 'Xenova/clip-vit-base-patch32',
        options: clipOptions,
        load: async () => (await import('./tag/clip.js')).createClipTagger,
        files: clipFiles,
      }),
    },
  },

  caption: {
    description: 'image captions and alt text',
    queue: 'gpu',
    backends: {
      florence2: defineBackend({
        defaultModel: 'onnx-community/Florence-2-base-ft',
        options: florence2Options,
        load: async () => (await import('./caption/florence2.js')).createFlorence2Captioner,
        files: florence2Files,
      }),
    },
  },

  vqa: {
    description: 'visual question answering with conversation memory',
    queue: 'gpu',
    backends: {
      blip2: defineBackend({
        defaultModel: 'Salesforce/blip2-opt-2.7b',
        options: blip2Options,
        load: async () => (await import('./vqa/blip2.js')).createBlip2Vqa,
        files: blip2Files,
      }),
      smolvlm: defineBackend({
        defaultModel: 'HuggingFaceTB/SmolVLM-256M-Instruct',
        options: smolVlmOptions,
        load: async () => (await import('./vqa/smolvlm.js')).createSmolVlmVqa,
        files: smolVlmFiles,
      }),
      groq: defineBackend({
        defaultModel: 'meta-llama/llama-4-maverick-17b-128e-instruct',
        options: groqOptions,
        load: async () => (await import('./vqa/groq.js')).createGroqVqa,
        modelFolder: false,
        queue: 'remote',
      }),
    },
  },

  read: {
    description: 'reading the text in images (OCR)',
    queue: 'gpu',
    backends: {
      tesseract: defineBackend({
        // the language; its trained data ships in the @tesseract.js-data/<lang> npm package
        defaultModel: 'eng',
        options: tesseractOptions,
        modelFolder: false,
        load: async () => (await import('./read/tesseract.js')).createTesseractReader,
      }),
      florence2: defineBackend({
        defaultModel: 'onnx-community/Florence-2-base-ft',
        options: florence2Options,
        load: async () => (await import('./read/florence2.js')).createFlorence2Reader,
        files: florence2Files,
      }),
    },
  },

  imagine: {
    description: 'text to image (Stable Diffusion)',
    queue: 'gpu',
    backends: {
      sd: defineBackend({
        defaultModel: 'onnxruntime/sd-turbo',
        options: sdOptions,
        load: async () => (await import('./imagine/sd.js')).createSdBackend,
        files: sdFiles,
      }),
    },
  },

  embed: {
    description: 'image and text embeddings (similarity search, duplicates)',
    queue: 'encoder',
    backends: {
      clip: defineBackend({
        defaultModel: 'Xenova/clip-vit-base-patch32',
        options: clipOptions,
        load: async () => (await import('./embed/clip.js')).createClipEmbedder,
        files: clipFiles,
      }),
    },
  },

  find: {
    description: 'finding things in images (grounding boxes)',
    queue: 'gpu',
    backends: {
      florence2: defineBackend({
        defaultModel: 'onnx-community/Florence-2-base-ft',
        options: florence2Options,
        load: async () => (await import('./find/florence2.js')).createFlorence2Finder,
        files: florence2Files,
      }),
    },
  },

  safety: {
    description: 'image safety scores (generated images before posting; uploads when asked)',
    queue: 'gpu',
    backends: {
      nsfwjs: defineBackend({
        // MobileNetV2 (default), MobileNetV2Mid or InceptionV3: the weights ship in the nsfwjs npm package
        defaultModel: 'MobileNetV2',
        options: nsfwjsOptions,
        modelFolder: false,
        load: async () => (await import('./safety/nsfwjs.js')).createNsfwjsClassifier,
      }),
    },
  },
} as const satisfies TaskTable;

/** The queue a task's jobs run on with the given backend (the backend's own, else the task's). */
export function queueOf(task: TaskName, backend: string, table: TaskTable = TASKS): string | undefined {
  const row = table[task] as TaskEntry<TaskName> | undefined;
  return row?.backends[backend]?.queue ?? row?.queue;
}

/** Tasks this build can run (those with a row in the table). */
export function taskNames(table: TaskTable = TASKS): TaskName[] {
  return Object.keys(table) as TaskName[];
}

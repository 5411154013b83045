/**
 * Captions with Florence-2 (backend id 'florence2'): detail 'short' → `<CAPTION>`, 'detailed' →
 * `<DETAILED_CAPTION>`, 'more_detailed' → `<MORE_DETAILED_CAPTION>`. The model, options and
 * offline loading are in ../florence2.ts. The alt-text policy is not applied here (the command does it).
 */

import type { Backend } from '../../contracts/backend.js';
import type { CaptionIO } from '../../contracts/tasks/caption.js';
import { type Florence2Task, loadFlorence2 } from '../florence2.js';
import type { Florence2Options } from '../options.js';
import type { BackendFactory } from '../types.js';

export const CAPTION_TASKS: Record<NonNullable<CaptionIO['in']['detail']>, Florence2Task> = {
  short: '<CAPTION>',
  detailed: '<DETAILED_CAPTION>',
  more_detailed: '<MORE_DETAILED_CAPTION>',
};

export const createFlorence2Captioner: BackendFactory<'caption', Florence2Options> = async (
  load,
): Promise<Backend<'caption'>> => {
  const florence = await loadFlorence2(load, 'caption/florence2');
  return {
    task: 'caption',
    id: 'florence2',
    model: load.modelId,
    async run(input, opts) {
      const task = CAPTION_TASKS[input.detail ?? 'short'];
      return { caption: await florence.run(input.image, task, opts) };
    },
    dispose: () => florence.dispose(),
  };
};

/**
 * Grounding with Florence-2's `<CAPTION_TO_PHRASE_GROUNDING>` task (backend id 'florence2'): the phrase
 * → the boxes the model puts on it, in image pixels. The model, options and offline loading are in
 * ../florence2.ts (one loader for caption, read and find).
 */

import type { Backend } from '../../contracts/backend.js';
import { loadFlorence2 } from '../florence2.js';
import type { Florence2Options } from '../options.js';
import type { BackendFactory } from '../types.js';

export const createFlorence2Finder: BackendFactory<'find', Florence2Options> = async (
  load,
): Promise<Backend<'find'>> => {
  const florence = await loadFlorence2(load, 'find/florence2');
  return {
    task: 'find',
    id: 'florence2',
    model: load.modelId,
    async run({ image, object }, opts) {
      const boxes = await florence.locate(
        image,
        { task: '<CAPTION_TO_PHRASE_GROUNDING>', input: object },
        opts,
      );
      return { boxes };
    },
    dispose: () => florence.dispose(),
  };
};

/**
 * OCR with Florence-2's `<OCR>` task (backend id 'florence2'), the alternative to tesseract: one model
 * for captions and text, and better on photos of signs than on scanned pages. The model, options and
 * offline loading are in ../florence2.ts.
 */

import type { Backend } from '../../contracts/backend.js';
import { loadFlorence2 } from '../florence2.js';
import type { Florence2Options } from '../options.js';
import type { BackendFactory } from '../types.js';

export const createFlorence2Reader: BackendFactory<'read', Florence2Options> = async (
  load,
): Promise<Backend<'read'>> => {
  const florence = await loadFlorence2(load, 'read/florence2');
  return {
    task: 'read',
    id: 'florence2',
    model: load.modelId,
    async run(input, opts) {
      return { text: await florence.run(input.image, '<OCR>', opts) };
    },
    dispose: () => florence.dispose(),
  };
};

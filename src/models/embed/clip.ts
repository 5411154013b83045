/**
 * CLIP embeddings (backend id 'clip'): the same model folder, sessions and options as tag/clip
 * (`Xenova/clip-vit-base-patch32` layout); texts go through the tag template ("a photo of {}") first,
 * since CLIP's text tower was trained on captions, not bare words.
 */

import type { Backend, TaskIO } from '../../contracts/backend.js';
import { UserError } from '../../errors.js';
import type { ClipOptions } from '../options.js';
import { createClipTagger } from '../tag/clip.js';
import type { BackendFactory, BackendLoadOptions } from '../types.js';

export const createClipEmbedder: BackendFactory<'embed', ClipOptions> = async (
  load: BackendLoadOptions<ClipOptions>,
): Promise<Backend<'embed'>> => {
  const clip = await createClipTagger(load);
  const rows = ({ data, dim }: { data: Float32Array; dim: number }, n: number) => ({
    dim,
    vectors: Array.from({ length: n }, (_, i) => data.slice(i * dim, (i + 1) * dim)),
  });
  return {
    task: 'embed',
    id: 'clip',
    model: load.modelId,
    async run(input: TaskIO['embed']['in'], opts) {
      if (opts.signal.aborted) throw new UserError('cancelled', 'the request was cancelled');
      if ('texts' in input) {
        if (input.texts.length === 0) return { dim: 0, vectors: [] };
        const call = {
          signal: opts.signal,
          owner: {},
          ...(opts.deadline !== undefined && { deadline: opts.deadline }),
        };
        return rows(await clip.embedTexts(input.texts, call), input.texts.length);
      }
      if (input.images.length === 0) return { dim: 0, vectors: [] };
      return rows(await clip.embedImages(input.images, opts.signal, opts.deadline), input.images.length);
    },
    dispose: () => clip.dispose(),
  };
};

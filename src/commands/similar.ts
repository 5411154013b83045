import { defineCommand } from '../contracts/command.js';
import type { LoadedImage } from '../contracts/request.js';
import { imageChannel, type SimilarHit } from '../core/image-index.js';
import { rememberImage } from '../core/image-memory.js';
import { UserError } from '../errors.js';

const MAX_TEXT_LENGTH = 200;
const MAX_TOP = 20;

/** `postedBy`: the image's poster, in the input because a worker (scale-out) gets the request without images. */
export type SimilarInput = { topK: number } & ({ image: LoadedImage; postedBy?: string } | { text: string });

function line(hit: SimilarHit, i: number): string {
  const where = hit.image.link || hit.image.name;
  return `${i + 1}. ${where} — posted by ${hit.image.author}, similarity ${hit.score.toFixed(2)}`;
}

/**
 * `/similar image:<img>` or `/similar text:<words>`: the earlier images of this channel closest to
 * it (CLIP cosine). An image asked about is remembered too, so the next search can find it.
 */
export interface SimilarData {
  hits: (SimilarHit['image'] & { score: number })[];
  /** Where this image was posted before in the channel (its link, else its name). */
  duplicateOf?: string;
}

export const similarCommand = defineCommand<SimilarInput, SimilarData>({
  name: 'similar',
  description: 'Find earlier images in this channel that look like an image or match a description.',
  options: [
    { name: 'image', type: 'image', description: 'Find images like this one.', recent: true },
    {
      name: 'text',
      type: 'string',
      description: 'Find images matching this description.',
      maxLength: MAX_TEXT_LENGTH,
    },
    { name: 'top', type: 'integer', description: 'How many results to show.', min: 1, max: MAX_TOP },
  ],
  queue: 'encoder',
  priority: 'interactive',
  indexesImages: true,
  async parse({ args, config, request, loadImages }) {
    if (!config.imageIndex.channels.includes(imageChannel(request.conversation))) {
      throw new UserError(
        'not_configured',
        'Image memory is off in this channel: an admin can turn it on (config imageIndex.channels).',
      );
    }
    const text = typeof args.text === 'string' ? args.text.trim() : '';
    const images = request.images.length;
    if (images > 1) throw new UserError('bad_option', `/similar takes one image (got ${images}).`);
    if (images === 1 && text)
      throw new UserError('bad_option', '/similar takes an image or a text, not both.');
    if (images === 0 && !text)
      throw new UserError('no_image', '/similar needs an image or a text to search for.');
    const topK = typeof args.top === 'number' ? args.top : config.imageIndex.topK;
    if (text) return { text, topK };
    const [image] = await loadImages();
    const postedBy = request.images[0]?.postedBy;
    return { image: image as LoadedImage, topK, ...(postedBy && { postedBy }) };
  },
  async run(input, ctx) {
    const index = ctx.imageIndex;
    if (!index) throw new UserError('not_available', 'Image memory is not available here.');
    const embedder = await ctx.backend('embed');
    const key = imageChannel(ctx.request.conversation);
    const query = 'text' in input ? { texts: [input.text] } : { images: [input.image] };
    const { vectors } = await embedder.run(query, {
      signal: ctx.signal,
      ...(ctx.deadline !== undefined && { deadline: ctx.deadline }),
    });
    const vector = vectors[0] as Float32Array;
    const hits = await index.search(key, vector, input.topK);
    let duplicateOf: string | undefined;
    if ('image' in input) {
      const dup = ctx.config.imageIndex.duplicates;
      const remembered = await rememberImage({
        index,
        key,
        image: input.image,
        vector,
        link: ctx.request.messageLink ?? '',
        author: input.postedBy ?? ctx.request.user.id,
        at: Date.now(),
        ...(dup.channels.includes(key) && { duplicates: dup }),
      });
      if (remembered.duplicateOf) duplicateOf = remembered.duplicateOf.link || remembered.duplicateOf.name;
    }
    const data = {
      hits: hits.map((h) => ({ ...h.image, score: h.score })),
      ...(duplicateOf !== undefined && { duplicateOf }),
    };
    const notice = duplicateOf !== undefined ? `\nThis image was posted here before: ${duplicateOf}` : '';
    if (hits.length === 0) return { text: `No earlier images in this channel yet.${notice}`, data };
    return { text: ['Most similar earlier images:', ...hits.map(line)].join('\n') + notice, data };
  },
});

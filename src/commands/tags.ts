import type { Scored } from '../contracts/backend.js';
import { defineCommand } from '../contracts/command.js';
import type { LoadedImage } from '../contracts/request.js';
import { truncate } from '../core/text.js';
import { UserError } from '../errors.js';

/** More labels than this make replies unreadable and text embedding slow. */
const MAX_LABELS = 50;
const MAX_LABEL_LENGTH = 60;
/** Images per request from chat; the CLI sends larger folders in chunks of this size. */
export const MAX_TAG_IMAGES = 32;

export interface TagsInput {
  images: LoadedImage[];
  labels: string[];
  topK: number;
}

export function parseLabels(text: string): string[] {
  const labels = [
    ...new Set(
      text
        .split(',')
        .map((l) => l.trim().replace(/\s+/g, ' '))
        .filter(Boolean),
    ),
  ];
  if (labels.length === 0)
    throw new UserError('bad_option', '`labels` must list at least one label, separated by commas.');
  if (labels.length > MAX_LABELS) {
    throw new UserError('bad_option', `\`labels\` has ${labels.length} labels; at most ${MAX_LABELS}.`);
  }
  const long = labels.find((l) => l.length > MAX_LABEL_LENGTH);
  if (long)
    throw new UserError(
      'bad_option',
      `The label "${truncate(long, 21)}" is too long (at most ${MAX_LABEL_LENGTH} characters).`,
    );
  return labels;
}

function percent(s: Scored): string {
  return `${s.label} ${(s.score * 100).toFixed(s.score < 0.1 ? 1 : 0)}%`;
}

/** Per image, in request order: every label with its score, best first. */
export type TagsData = { file: string; labels: { label: string; score: number }[] }[];

export const tagsCommand = defineCommand<TagsInput, TagsData>({
  name: 'tags',
  description: 'Tag an image with the labels that fit it best (zero-shot, CLIP).',
  options: [
    { name: 'image', type: 'image', description: 'The image to tag.', required: true },
    {
      name: 'labels',
      type: 'string',
      description: "Comma-separated labels to choose from (default: the server's label set).",
      maxLength: MAX_LABELS * (MAX_LABEL_LENGTH + 2),
    },
    { name: 'top', type: 'integer', description: 'How many labels to show.', min: 1, max: MAX_LABELS },
  ],
  queue: 'encoder',
  priority: 'normal',
  async parse({ args, config, request, loadImages }) {
    if (request.images.length > MAX_TAG_IMAGES) {
      throw new UserError(
        'bad_option',
        `/tags takes at most ${MAX_TAG_IMAGES} images at once (got ${request.images.length}).`,
      );
    }
    const labels = typeof args.labels === 'string' ? parseLabels(args.labels) : config.tasks.tag.labels;
    const topK = typeof args.top === 'number' ? args.top : config.tasks.tag.topK;
    return { images: await loadImages(), labels, topK };
  },
  async run({ images, labels, topK }, ctx) {
    const tagger = await ctx.backend('tag');
    const results = await tagger.run(
      { images, labels },
      { signal: ctx.signal, ...(ctx.deadline !== undefined && { deadline: ctx.deadline }) },
    );
    const data = results.map((r, i) => ({ file: images[i]?.name ?? '', labels: r.labels }));
    const lines = data.map((d) => {
      const top = d.labels.slice(0, topK).map(percent).join(', ');
      return images.length > 1 ? `${d.file}: ${top}` : `Tags: ${top}`;
    });
    return { text: lines.join('\n'), data };
  },
});

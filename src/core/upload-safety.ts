/**
 * `safety.uploads: flag`: images users send are scored by the safety classifier (tasks.safety) when a
 * command reads them, before the job is queued. A flagged one is named in a note on the reply and a
 * warning in the log; nothing is withheld or deleted (the image is the user's, already on the platform).
 * A classifier that fails is logged and the request goes on: the flag is advice, not a gate.
 */
import type { Config } from '../config.js';
import type { BackendProvider } from '../contracts/backend.js';
import type { LoadedImage, Reply } from '../contracts/request.js';
import type { Logger } from './log.js';
import { judge } from './safety-verdict.js';

/** The note for flagged uploads, or undefined when none is flagged (or checking is off). */
export async function uploadSafetyNote(
  images: readonly LoadedImage[],
  o: { registry: BackendProvider; config: Config; signal: AbortSignal; log: Logger },
): Promise<string | undefined> {
  if (o.config.safety.uploads !== 'flag' || images.length === 0) return undefined;
  try {
    const classifier = await o.registry.get('safety');
    const results = await classifier.run({ images: images.map((i) => i.bytes) }, { signal: o.signal });
    const flagged = images.filter((image, i) => {
      const verdict = judge(results[i]?.scores ?? {}, o.config.safety);
      if (verdict.flagged) {
        o.log.warn(
          { image: image.name, score: verdict.score, classes: verdict.classes },
          'upload flagged by the safety check',
        );
      }
      return verdict.flagged;
    });
    if (flagged.length === 0) return undefined;
    const names = flagged.map((i) => i.name).join(', ');
    return `Note: the safety check flagged ${flagged.length === 1 ? 'this image' : 'these images'} (${names}) as possibly sensitive.`;
  } catch (err) {
    if (o.signal.aborted) throw err;
    o.log.warn({ err }, 'uploads: the safety check failed; the request goes on unchecked');
    return undefined;
  }
}

/** The reply with the note as its last line (a failed reply keeps its text as it is). */
export function withNote(reply: Reply, note: string | undefined): Reply {
  if (!note || reply.error) return reply;
  return { ...reply, text: [reply.text, note].filter(Boolean).join('\n') };
}

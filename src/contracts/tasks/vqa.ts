import type { Turn } from '../../core/memory.js';
import type { LoadedImage } from '../request.js';

/** Image(s) + question + earlier turns → answer. Each backend renders `history` its own way. */
export interface VqaIO {
  in: {
    /** The image(s) the conversation is about; several for /compare. */
    images: LoadedImage[];
    question: string;
    /** Earlier turns of this conversation, oldest first (already filtered to this conversation). */
    history: Turn[];
    /** Stable key of the image(s) (content hash): backends cache vision features under it. */
    imageKey?: string;
    /** 'json': answer is a JSON object {description, funny_story} (Groq structured mode). */
    format?: 'text' | 'json';
  };
  out: {
    answer: string;
    /** 0–1 when the backend can tell; replies add a "may be wrong" hint below a threshold. */
    confidence?: number;
    /** Parsed and validated object when format was 'json'. */
    data?: Record<string, unknown>;
  };
}

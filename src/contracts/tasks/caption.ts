import type { LoadedImage } from '../request.js';

/** Image → text. The alt-text policy (length caps, AI label) is applied by the command, not the backend. */
export interface CaptionIO {
  in: {
    image: LoadedImage;
    /** Florence-2 prompts <CAPTION> / <DETAILED_CAPTION> / <MORE_DETAILED_CAPTION>. Default 'short'. */
    detail?: 'short' | 'detailed' | 'more_detailed';
    /** config altText.language (BCP 47): backends that can write other languages use it; Florence-2 cannot. */
    language?: string;
  };
  out: { caption: string };
}

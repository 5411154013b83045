import type { LoadedImage } from '../request.js';

/** A found object: what it is and where, in the image's pixels (x1,y1 top left, x2,y2 bottom right). */
export interface FoundBox {
  label: string;
  box: { x1: number; y1: number; x2: number; y2: number };
}

/** Image + what to look for → boxes (grounding). Drawing and wording are the command's. */
export interface FindIO {
  in: {
    image: LoadedImage;
    /** A phrase naming what to find ("red", "the dog on the left"); plain words, no < or >. */
    object: string;
  };
  /** Boxes in the model's order; empty when nothing matches. */
  out: { boxes: FoundBox[] };
}

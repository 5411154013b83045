import type { LoadedImage } from '../request.js';

/** OCR: image → the text in it. */
export interface ReadIO {
  in: { image: LoadedImage };
  out: {
    text: string;
    /** 0–1 mean word confidence when the engine reports one. */
    confidence?: number;
  };
}

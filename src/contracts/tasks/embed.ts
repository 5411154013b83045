import type { LoadedImage } from '../request.js';

/**
 * Embeddings in one shared space (CLIP): images through the vision tower, texts through the text tower,
 * so a text can be compared with images. Vectors are L2-normalised: cosine = dot product.
 */
export interface EmbedIO {
  in: { images: LoadedImage[] } | { texts: string[] };
  /** One vector per input, in order; all of length `dim`. */
  out: { dim: number; vectors: Float32Array[] };
}

/**
 * Image → class scores, for the safety checks on what iris posts (generated images) and, when asked,
 * on what users upload. What counts as unsafe is config (`safety.classes`, `safety.threshold`), not the
 * backend's business: a backend only scores.
 */
export interface SafetyIO {
  in: {
    /** Encoded image files (PNG, JPEG, WebP, GIF). */
    images: Buffer[];
  };
  /** One entry per input image: every class the model knows, with its probability (0–1). */
  out: { scores: Record<string, number> }[];
}

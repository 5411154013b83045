/**
 * The image safety-check hook: called on every generated image after decoding, before it is sent. iris
 * ships no safety model yet; a deployment plugs one in with `createImagineCommand({ safetyCheck })`
 * (e.g. an NSFW classifier on onnxruntime, or a moderation API). Until then every image is allowed and
 * only the prompt blocklist (config tasks.imagine.blocklist) applies.
 */

export interface SafetyVerdict {
  allowed: boolean;
  /** Shown to the user when an image is withheld (short, no details of the classifier). */
  reason?: string;
}

export interface ImageSafetyCheck {
  check(
    image: { png: Buffer; width: number; height: number; prompt: string; seed: number },
    signal: AbortSignal,
  ): Promise<SafetyVerdict>;
}

export const allowAllImages: ImageSafetyCheck = {
  async check() {
    return { allowed: true };
  },
};

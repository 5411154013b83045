import type { LoadedImage } from '../../core/types.js';

/** Text → image(s). Options are validated by the command; the backend trusts them. */
export interface ImagineIO {
  in: {
    prompt: string;
    negative?: string;
    seed: number;
    steps: number;
    guidance: number;
    width: number;
    height: number;
    /** Images per request (1–4); image i uses seed + i. */
    count: number;
    /** Scheduler name from the backend's table (euler, euler_a, ddim, pndm, lms); default per model. */
    scheduler?: string;
    /** img2img for variations: start from this image, keeping (1 - strength) of it. */
    init?: { image: LoadedImage; strength: number };
  };
  out: {
    images: { png: Buffer; width: number; height: number; seed: number }[];
    /** Scheduler and steps actually used, for the reply's parameters line. */
    scheduler: string;
  };
}

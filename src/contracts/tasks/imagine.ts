import type { LoadedImage } from '../request.js';

/** Seeds are whole numbers 0 … MAX_SEED (2³²−1). */
export const MAX_SEED = 0xffffffff;

/** A fresh random seed for requests that give none (crypto-free: the seed is shown to the user anyway). */
export function randomSeed(random: () => number = Math.random): number {
  return Math.floor(random() * (MAX_SEED + 1)) >>> 0;
}

/** The samplers an imagine backend offers, with the name replies show; button ids store the index. */
export const SCHEDULER_LABELS = {
  euler: 'Euler',
  euler_a: 'Euler ancestral',
  lms: 'LMS',
  ddim: 'DDIM',
  pndm: 'PNDM',
} as const;

export type SchedulerName = keyof typeof SCHEDULER_LABELS;

export const SCHEDULER_NAMES = Object.keys(SCHEDULER_LABELS) as SchedulerName[];

/** Text → image(s). Options are validated by the command; the backend trusts them. */
export interface ImagineIO {
  in: {
    prompt: string;
    negative?: string;
    /** 0 … 2³²−1; image i uses seed + i (mod 2³²). */
    seed: number;
    steps: number;
    /** Classifier-free guidance scale; ≤ 1 runs the prompt alone (SD-Turbo), > 1 batches negative + prompt. */
    guidance: number;
    /** Multiples of 64. */
    width: number;
    height: number;
    /** Images per request (1–4); image i uses seed + i. */
    count: number;
    /** Scheduler name from the backend's table (euler, euler_a, ddim, pndm, lms); default: the model folder's. */
    scheduler?: string;
    /** img2img for variations: start from this image, keeping (1 - strength) of it. */
    init?: { image: LoadedImage; strength: number };
    /** A low-resolution preview every this many steps through onProgress (0 or absent: none). */
    previewEvery?: number;
    /** Name written into the PNG metadata (e.g. 'turbo'); default: the model id. */
    modelName?: string;
  };
  out: {
    images: { png: Buffer; width: number; height: number; seed: number }[];
    /** Scheduler and steps actually used, for the reply's parameters line. */
    scheduler: string;
    /** Steps of the schedule (img2img may raise them so that steps × strength ≥ 1). */
    steps: number;
  };
}

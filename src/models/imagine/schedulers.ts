// biome-ignore-all lint/style/noNonNullAssertion: numeric loops over typed arrays whose indices are in range by construction
/**
 * Diffusion schedulers, written once and driven by a table (SCHEDULERS): Euler, Euler ancestral, LMS,
 * DDIM and PNDM (PLMS, `skip_prk_steps`), following the formulas of the published papers as implemented
 * in Hugging Face diffusers (so a model's `scheduler/scheduler_config.json` means the same thing here):
 *
 * - training schedule: β from `beta_schedule` ('scaled_linear': linspace(√β₀, √β₁, T)², 'linear'),
 *   ᾱ_t = Π(1 − β); Karras et al. σ_t = √((1 − ᾱ_t)/ᾱ_t).
 * - timestep spacing ('leading' | 'trailing' | 'linspace', Lin et al. 2023 table 2), numpy's
 *   round-half-to-even where diffusers rounds.
 * - sigma family (Euler, Euler a, LMS): the model input is x/√(σ²+1); x₀ = x − σ·ε; Euler takes
 *   x + (x − x₀)/σ·(σ' − σ); Euler a splits σ' into σ_down, σ_up (k-diffusion's ancestral step); LMS is
 *   the linear multistep method of order ≤ 4 with Lagrange coefficients integrated exactly (Gauss–Legendre).
 * - alpha family (DDIM η=0, PNDM): x₀ = (x − √(1−ᾱ)·ε)/√ᾱ; DDIM x' = √ᾱ'·x₀ + √(1−ᾱ')·ε; PNDM combines
 *   the last ε's with Adams–Bashforth weights (1; ½(3,−1); (23,−16,5)/12; (55,−59,37,−9)/24) and
 *   steps with formula (9) of Liu et al. 2022.
 *
 * Every scheduler works on the whole batch as one flat Float32Array; scalars are computed in float64.
 */
import { SCHEDULER_NAMES, type SchedulerName } from '../../contracts/tasks/imagine.js';
import { listChoices, UserError } from '../../errors.js';

export type Spacing = 'leading' | 'trailing' | 'linspace';
export type Prediction = 'epsilon' | 'v_prediction';

export interface TrainSchedule {
  trainTimesteps: number;
  betaStart: number;
  betaEnd: number;
  betaSchedule: 'scaled_linear' | 'linear';
  stepsOffset: number;
  setAlphaToOne: boolean;
  spacing: Spacing;
  prediction: Prediction;
}

/** Stable Diffusion 1.x/2.x defaults (their scheduler_config.json). */
export const SD_SCHEDULE: TrainSchedule = {
  trainTimesteps: 1000,
  betaStart: 0.00085,
  betaEnd: 0.012,
  betaSchedule: 'scaled_linear',
  stepsOffset: 1,
  setAlphaToOne: false,
  spacing: 'leading',
  prediction: 'epsilon',
};

/** Reads diffusers' scheduler_config.json; unknown or missing keys keep the SD defaults. */
export function parseSchedulerConfig(json: Record<string, unknown>): TrainSchedule {
  const num = (k: string, d: number) => (typeof json[k] === 'number' ? (json[k] as number) : d);
  const pick = <T extends string>(k: string, allowed: readonly T[], d: T): T =>
    allowed.includes(json[k] as T) ? (json[k] as T) : d;
  return {
    trainTimesteps: num('num_train_timesteps', SD_SCHEDULE.trainTimesteps),
    betaStart: num('beta_start', SD_SCHEDULE.betaStart),
    betaEnd: num('beta_end', SD_SCHEDULE.betaEnd),
    betaSchedule: pick('beta_schedule', ['scaled_linear', 'linear'], SD_SCHEDULE.betaSchedule),
    stepsOffset: num('steps_offset', SD_SCHEDULE.stepsOffset),
    setAlphaToOne: json.set_alpha_to_one === true,
    spacing: pick('timestep_spacing', ['leading', 'trailing', 'linspace'], SD_SCHEDULE.spacing),
    prediction: pick('prediction_type', ['epsilon', 'v_prediction'], SD_SCHEDULE.prediction),
  };
}

export function alphasCumprod(s: TrainSchedule): Float64Array {
  const T = s.trainTimesteps;
  const out = new Float64Array(T);
  let prod = 1;
  for (let i = 0; i < T; i++) {
    const f = T === 1 ? 0 : i / (T - 1);
    const beta =
      s.betaSchedule === 'scaled_linear'
        ? (Math.sqrt(s.betaStart) + f * (Math.sqrt(s.betaEnd) - Math.sqrt(s.betaStart))) ** 2
        : s.betaStart + f * (s.betaEnd - s.betaStart);
    prod *= 1 - beta;
    out[i] = prod;
  }
  return out;
}

/** numpy's round: half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Inference timesteps, descending (diffusers' set_timesteps). `round` false keeps linspace fractional (Euler). */
export function spacedTimesteps(s: TrainSchedule, n: number, round = true): number[] {
  const T = s.trainTimesteps;
  const out: number[] = [];
  if (s.spacing === 'leading') {
    const ratio = Math.floor(T / n);
    for (let i = n - 1; i >= 0; i--) out.push(i * ratio + s.stepsOffset);
  } else if (s.spacing === 'trailing') {
    const ratio = T / n;
    for (let i = 0; i < n; i++) out.push(roundHalfEven(T - i * ratio) - 1);
  } else {
    for (let i = n - 1; i >= 0; i--) {
      const t = n === 1 ? 0 : (i * (T - 1)) / (n - 1);
      out.push(round ? roundHalfEven(t) : t);
    }
  }
  return out;
}

/** σ at (possibly fractional) timestep t: linear interpolation over the training σ's, as np.interp. */
function sigmaAt(ac: Float64Array, t: number): number {
  const sig = (i: number) => Math.sqrt((1 - (ac[i] as number)) / (ac[i] as number));
  const lo = Math.max(0, Math.min(ac.length - 1, Math.floor(t)));
  const hi = Math.min(ac.length - 1, lo + 1);
  const f = t - lo;
  return f === 0 ? sig(lo) : sig(lo) * (1 - f) + sig(hi) * f;
}

// ---------------------------------------------------------------------------------------------

export interface StepResult {
  prev: Float32Array;
  /** The model's estimate of the clean latents (for previews). */
  x0: Float32Array;
}

/** One sampling run: create with the number of steps, then call step(i, …) for i = start … timesteps.length-1. */
export interface SchedulerRun {
  readonly name: SchedulerName;
  /** Timestep passed to the UNet at each call (PNDM repeats one: n+1 calls). */
  readonly timesteps: readonly number[];
  /** Pure noise is multiplied by this before the first step. */
  readonly initNoiseSigma: number;
  /** Needs fresh noise at every step (ancestral samplers). */
  readonly stochastic: boolean;
  /** Factor the latents are multiplied by before the UNet at call i. */
  inputScale(i: number): number;
  /** `noise` (same length as sample) is required when `stochastic`. */
  step(i: number, modelOutput: Float32Array, sample: Float32Array, noise?: Float32Array): StepResult;
  /** img2img: clean latents noised to the level of call i. */
  addNoise(x0: Float32Array, noise: Float32Array, i: number): Float32Array;
}

type Maker = (s: TrainSchedule, ac: Float64Array, steps: number) => SchedulerRun;

function sigmaFamily(name: SchedulerName, kind: 'euler' | 'euler_a' | 'lms'): Maker {
  return (s, ac, steps) => {
    const timesteps = spacedTimesteps(s, steps, false);
    const sigmas = [...timesteps.map((t) => sigmaAt(ac, t)), 0];
    const sMax = Math.max(...sigmas);
    const derivatives: Float32Array[] = [];
    const x0Of = (eps: Float32Array, x: Float32Array, sigma: number) => {
      const x0 = new Float32Array(x.length);
      if (s.prediction === 'epsilon') for (let k = 0; k < x.length; k++) x0[k] = x[k]! - sigma * eps[k]!;
      else {
        const a = -sigma / Math.sqrt(sigma * sigma + 1);
        const b = 1 / (sigma * sigma + 1);
        for (let k = 0; k < x.length; k++) x0[k] = eps[k]! * a + x[k]! * b;
      }
      return x0;
    };
    return {
      name,
      timesteps,
      initNoiseSigma: s.spacing === 'leading' ? Math.sqrt(sMax * sMax + 1) : sMax,
      stochastic: kind === 'euler_a',
      inputScale: (i) => 1 / Math.sqrt(sigmas[i]! ** 2 + 1),
      addNoise(x0, noise, i) {
        const out = new Float32Array(x0.length);
        const sigma = sigmas[i]!;
        for (let k = 0; k < x0.length; k++) out[k] = x0[k]! + sigma * noise[k]!;
        return out;
      },
      step(i, eps, x, noise) {
        const sigma = sigmas[i]!;
        const next = sigmas[i + 1]!;
        const x0 = x0Of(eps, x, sigma);
        const prev = new Float32Array(x.length);
        if (kind === 'euler') {
          const f = (next - sigma) / sigma;
          for (let k = 0; k < x.length; k++) prev[k] = x[k]! + (x[k]! - x0[k]!) * f;
        } else if (kind === 'euler_a') {
          if (!noise) throw new Error('euler_a needs noise at every step');
          const up = Math.sqrt((next * next * (sigma * sigma - next * next)) / (sigma * sigma));
          const down = Math.sqrt(next * next - up * up);
          const f = (down - sigma) / sigma;
          for (let k = 0; k < x.length; k++) prev[k] = x[k]! + (x[k]! - x0[k]!) * f + noise[k]! * up;
        } else {
          const d = new Float32Array(x.length);
          for (let k = 0; k < x.length; k++) d[k] = (x[k]! - x0[k]!) / sigma;
          derivatives.push(d);
          if (derivatives.length > 4) derivatives.shift();
          const order = Math.min(i + 1, 4, derivatives.length);
          prev.set(x);
          for (let j = 0; j < order; j++) {
            const c = lmsCoefficient(sigmas, i, j, order);
            const dj = derivatives[derivatives.length - 1 - j]!;
            for (let k = 0; k < x.length; k++) prev[k] = prev[k]! + c * dj[k]!;
          }
        }
        return { prev, x0 };
      },
    };
  };
}

/** ∫_{σ_i}^{σ_{i+1}} Π_{k≠j} (τ − σ_{i−k}) / (σ_{i−j} − σ_{i−k}) dτ, exact (4-point Gauss–Legendre, degree ≤ 3). */
export function lmsCoefficient(sigmas: readonly number[], i: number, j: number, order: number): number {
  const basis = (tau: number) => {
    let p = 1;
    for (let k = 0; k < order; k++) {
      if (k === j) continue;
      p *= (tau - sigmas[i - k]!) / (sigmas[i - j]! - sigmas[i - k]!);
    }
    return p;
  };
  const a = sigmas[i]!;
  const b = sigmas[i + 1]!;
  const nodes = [-0.8611363115940526, -0.3399810435848563, 0.3399810435848563, 0.8611363115940526];
  const weights = [0.3478548451374538, 0.6521451548625461, 0.6521451548625461, 0.3478548451374538];
  let sum = 0;
  for (let q = 0; q < 4; q++) sum += weights[q]! * basis(((b - a) / 2) * nodes[q]! + (a + b) / 2);
  return ((b - a) / 2) * sum;
}

function alphaFamily(name: SchedulerName, kind: 'ddim' | 'pndm'): Maker {
  return (s, ac, steps) => {
    const base = spacedTimesteps(s, steps);
    // PNDM with skip_prk_steps: the second timestep is used twice (its warm-up step).
    const timesteps = kind === 'pndm' && base.length > 1 ? [base[0]!, base[1]!, ...base.slice(1)] : base;
    const stride = Math.floor(s.trainTimesteps / steps);
    const final = s.setAlphaToOne ? 1 : ac[0]!;
    const alpha = (t: number) => (t >= 0 ? ac[t]! : final);
    const toEps = (out: Float32Array, x: Float32Array, a: number) => {
      // v-prediction → ε = √ᾱ·v + √(1−ᾱ)·x
      if (s.prediction === 'epsilon') return out;
      const e = new Float32Array(x.length);
      for (let k = 0; k < x.length; k++) e[k] = Math.sqrt(a) * out[k]! + Math.sqrt(1 - a) * x[k]!;
      return e;
    };
    const x0Of = (eps: Float32Array, x: Float32Array, a: number) => {
      const x0 = new Float32Array(x.length);
      const sa = Math.sqrt(a);
      const s1 = Math.sqrt(1 - a);
      for (let k = 0; k < x.length; k++) x0[k] = (x[k]! - s1 * eps[k]!) / sa;
      return x0;
    };
    // PNDM state
    const ets: Float32Array[] = [];
    let counter = 0;
    let curSample: Float32Array | undefined;
    return {
      name,
      timesteps,
      initNoiseSigma: 1,
      stochastic: false,
      inputScale: () => 1,
      addNoise(x0, noise, i) {
        const a = ac[timesteps[i]!]!;
        const out = new Float32Array(x0.length);
        for (let k = 0; k < x0.length; k++) out[k] = Math.sqrt(a) * x0[k]! + Math.sqrt(1 - a) * noise[k]!;
        return out;
      },
      step(i, out, x) {
        let t = timesteps[i]!;
        if (kind === 'ddim') {
          const a = alpha(t);
          const ap = alpha(t - stride);
          const eps = toEps(out, x, a);
          const x0 = x0Of(eps, x, a);
          const prev = new Float32Array(x.length);
          for (let k = 0; k < x.length; k++) prev[k] = Math.sqrt(ap) * x0[k]! + Math.sqrt(1 - ap) * eps[k]!;
          return { prev, x0 };
        }
        let prevT = t - stride;
        const e0 = toEps(out, x, alpha(t));
        let eps: Float32Array;
        let sample = x;
        if (counter !== 1) {
          if (ets.length > 3) ets.shift();
          ets.push(e0);
        } else {
          prevT = t;
          t += stride;
        }
        const n = ets.length;
        const comb = (w: number[], div: number) => {
          const r = new Float32Array(x.length);
          for (let k = 0; k < x.length; k++) {
            let v = 0;
            for (let j = 0; j < w.length; j++) v += w[j]! * ets[n - 1 - j]![k]!;
            r[k] = v / div;
          }
          return r;
        };
        if (n === 1 && counter === 0) {
          eps = e0;
          curSample = x;
        } else if (n === 1 && counter === 1) {
          eps = new Float32Array(x.length);
          for (let k = 0; k < x.length; k++) eps[k] = (e0[k]! + ets[0]![k]!) / 2;
          sample = curSample ?? x;
          curSample = undefined;
        } else if (n === 2) eps = comb([3, -1], 2);
        else if (n === 3) eps = comb([23, -16, 5], 12);
        else eps = comb([55, -59, 37, -9], 24);
        counter++;
        const a = alpha(t);
        const ap = alpha(prevT);
        const coeff = Math.sqrt(ap / a);
        const denom = a * Math.sqrt(1 - ap) + Math.sqrt(a * (1 - a) * ap);
        const prev = new Float32Array(x.length);
        for (let k = 0; k < x.length; k++) prev[k] = coeff * sample[k]! - ((ap - a) * eps[k]!) / denom;
        return { prev, x0: x0Of(eps, sample, a) };
      },
    };
  };
}

/** The table: name → how to build a run. Adding a scheduler is one row. */
export const SCHEDULERS = {
  euler: sigmaFamily('euler', 'euler'),
  euler_a: sigmaFamily('euler_a', 'euler_a'),
  lms: sigmaFamily('lms', 'lms'),
  ddim: alphaFamily('ddim', 'ddim'),
  pndm: alphaFamily('pndm', 'pndm'),
} as const satisfies Record<SchedulerName, Maker>;

export function isSchedulerName(name: string): name is SchedulerName {
  return Object.hasOwn(SCHEDULERS, name);
}

/** diffusers' `_class_name` → our name, for a model folder's default. */
export function schedulerFromClass(className: unknown): SchedulerName | undefined {
  const map: Record<string, SchedulerName> = {
    EulerDiscreteScheduler: 'euler',
    EulerAncestralDiscreteScheduler: 'euler_a',
    LMSDiscreteScheduler: 'lms',
    DDIMScheduler: 'ddim',
    PNDMScheduler: 'pndm',
  };
  return typeof className === 'string' ? map[className] : undefined;
}

/** Build a run of `steps` inference steps. */
export function createScheduler(
  name: string,
  steps: number,
  schedule: TrainSchedule = SD_SCHEDULE,
  ac: Float64Array = alphasCumprod(schedule),
): SchedulerRun {
  if (!isSchedulerName(name)) {
    throw new UserError(
      'bad_option',
      `Unknown scheduler ${name}. Schedulers: ${listChoices(SCHEDULER_NAMES)}.`,
    );
  }
  if (!Number.isInteger(steps) || steps < 1 || steps > schedule.trainTimesteps) {
    throw new UserError('bad_option', `steps must be a whole number from 1 to ${schedule.trainTimesteps}.`);
  }
  return SCHEDULERS[name](schedule, ac, steps);
}

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { SeededRandom } from '../../src/models/imagine/rng.js';
import {
  alphasCumprod,
  createScheduler,
  roundHalfEven,
  SD_SCHEDULE,
  type Spacing,
  spacedTimesteps,
} from '../../src/models/imagine/schedulers.js';

/**
 * Reference numbers: test/fixtures/sd-schedulers.json, written by test/fixtures/sd-schedulers.py (numpy +
 * scipy, the published formulas as diffusers implements them; independent of the TypeScript code).
 */
const REF = JSON.parse(readFileSync(new URL('../fixtures/sd-schedulers.json', import.meta.url), 'utf8')) as {
  alphasCumprod: Record<string, number>;
  sigmaMax: number;
  sigmaMin: number;
  runs: Record<string, { timesteps: number[]; init: number; final: number[] }>;
};

const fakeModel = (x: Float32Array, t: number) => x.map((v) => 0.3 * v + 0.001 * t - 0.2);
const fakeNoise = (i: number) => Float32Array.from([0, 1, 2, 3], (k) => Math.sin(k + 1 + 10 * i));

function close(actual: number, expected: number, what: string, rel = 2e-5) {
  const tol = rel * Math.max(1, Math.abs(expected));
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: got ${actual}, expected ${expected}`);
}

describe('schedulers against reference numbers', () => {
  it('training schedule: ᾱ and σ range of Stable Diffusion', () => {
    const ac = alphasCumprod(SD_SCHEDULE);
    for (const [t, v] of Object.entries(REF.alphasCumprod))
      close(ac[Number(t)] as number, v, `ᾱ[${t}]`, 1e-12);
    close(Math.sqrt((1 - (ac[999] as number)) / (ac[999] as number)), REF.sigmaMax, 'σ_max', 1e-12);
    close(Math.sqrt((1 - (ac[0] as number)) / (ac[0] as number)), REF.sigmaMin, 'σ_min', 1e-12);
    // the numbers every SD user has seen: σ_max ≈ 14.6146, σ_min ≈ 0.0292
    assert.equal(REF.sigmaMax.toFixed(4), '14.6146');
    assert.equal(REF.sigmaMin.toFixed(4), '0.0292');
  });

  it('rounds half to even like numpy', () => {
    assert.deepEqual([0.5, 1.5, 2.5, -0.5, 937.5, 938.5, 1.2].map(roundHalfEven), [0, 2, 2, -0, 938, 938, 1]);
    assert.deepEqual(
      spacedTimesteps({ ...SD_SCHEDULE, spacing: 'trailing' }, 16).slice(0, 4),
      [999, 937, 874, 811],
    );
  });

  for (const [key, ref] of Object.entries(REF.runs)) {
    const [name, stepsText, spacing] = key.split('/') as [string, string, Spacing];
    const steps = Number(stepsText);
    it(`${name}, ${steps} steps, ${spacing} spacing: timesteps, initial σ and final latents`, () => {
      const run = createScheduler(name, steps, { ...SD_SCHEDULE, spacing });
      assert.equal(run.timesteps.length, ref.timesteps.length);
      for (const [i, t] of run.timesteps.entries()) close(t, ref.timesteps[i] as number, `t[${i}]`, 1e-12);
      close(run.initNoiseSigma, ref.init, 'init σ', 1e-12);
      let x: Float32Array = Float32Array.from([0.5, -1.0, 1.5, 0.25], (v) => v * run.initNoiseSigma);
      run.timesteps.forEach((t, i) => {
        const scaled = x.map((v) => v * run.inputScale(i));
        const out = fakeModel(scaled, t);
        x = run.step(i, out, x, run.stochastic ? fakeNoise(i) : undefined).prev;
      });
      for (const [k, v] of x.entries()) close(v, ref.final[k] as number, `x[${k}]`, 1e-4);
    });
  }

  it('x0 of a perfect denoiser is exact: one Euler step lands on it', () => {
    const run = createScheduler('euler', 1, { ...SD_SCHEDULE, spacing: 'trailing' });
    const target = Float32Array.from([0.2, -0.4, 0.6, 0]);
    const noise = Float32Array.from([1, -1, 0.5, 2]);
    const x = run.addNoise(target, noise, 0);
    const sigma = run.initNoiseSigma;
    const eps = x.map((v, k) => (v - (target[k] as number)) / sigma);
    const { prev } = run.step(0, eps, x);
    for (const [k, v] of prev.entries()) close(v, target[k] as number, `x0[${k}]`, 1e-5);
  });

  it('unknown scheduler and out-of-range steps are user errors naming the choices', () => {
    assert.throws(() => createScheduler('heun', 4), /Schedulers: euler, euler_a, lms, ddim or pndm/);
    assert.throws(() => createScheduler('euler', 0), /from 1 to 1000/);
  });
});

describe('seeded noise', () => {
  it('same seed → same stream; different seed → different stream', () => {
    const a = new SeededRandom(7).normals(1000);
    const b = new SeededRandom(7).normals(1000);
    const c = new SeededRandom(8).normals(1000);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });

  it('is standard normal (mean ≈ 0, variance ≈ 1 over 200k draws)', () => {
    const z = new SeededRandom(12345).normals(200_000);
    let sum = 0;
    let sq = 0;
    for (const v of z) {
      sum += v;
      sq += v * v;
    }
    const mean = sum / z.length;
    assert.ok(Math.abs(mean) < 0.01, `mean ${mean}`);
    assert.ok(Math.abs(sq / z.length - mean * mean - 1) < 0.02, `variance ${sq / z.length}`);
  });

  it('xoshiro128** seeded by splitmix32 gives fixed numbers (regression guard for reproducible seeds)', () => {
    const r = new SeededRandom(0);
    const first = [r.nextUint32(), r.nextUint32(), r.nextUint32()];
    const again = new SeededRandom(0);
    assert.deepEqual([again.nextUint32(), again.nextUint32(), again.nextUint32()], first);
    assert.ok(first.every((v) => Number.isInteger(v) && v >= 0 && v < 2 ** 32));
    assert.equal(new Set(first).size, 3);
  });
});

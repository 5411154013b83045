/**
 * `npm run bench -- imagine [--steps 4] [--size 512] [--rounds 3] [--threads 0]`
 *
 * Builds the colour-world SD folders with `cost: 'bench'` (same names, dtypes and pictures as the colour
 * world, plus convolution work with a realistic per-step shape: a UNet of 6 conv layers of width 384 at
 * latent resolution per call, VAE decoder convs up to the full image) and runs iris's pipeline on them:
 *   - v1-5 layout: fp32, guidance 7.5 (uncond + cond batched in one UNet call), PNDM, `--steps` steps
 *   - turbo layout: fp16 I/O, no guidance, Euler, 1 step
 * For each it reports the time inside session.run (per session) against the total, and the glue
 * (everything else: tokenising, scheduler + guidance arithmetic, fp16 conversion, VAE post-processing,
 * PNG encoding) as a share of model time. Goal: glue ≤ 5 % of model time. The median round is shown.
 *
 * Then what the safety check, the alt-text caption and the provenance XMP add per image (imagine-trust.ts).
 *
 * No GPU here: real it/s with SD-Turbo-sized weights needs the GPU machine and is not measured.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ImagineIO } from '../src/contracts/tasks/imagine.js';
import { synthSd } from '../src/demo/colourworld/sd.js';
import { createSdBackend } from '../src/models/imagine/sd.js';
import { type SdHooks, sdOptions } from '../src/models/options.js';
import { flag } from './args.js';
import { reportTrust, trustCosts } from './imagine-trust.js';

interface Round {
  total: number;
  sessions: Record<string, number>;
  phases: Record<string, number>;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const ms = (v: number) => `${v.toFixed(0).padStart(7)} ms`;

async function measure(
  dir: string,
  input: ImagineIO['in'],
  rounds: number,
  threads: number,
): Promise<{ rounds: Round[]; median: Round; image: ImagineIO['out']['images'][number] }> {
  let current: Round = { total: 0, sessions: {}, phases: {} };
  const hooks: SdHooks = {
    onSessionRun: (name, t) => {
      current.sessions[name] = (current.sessions[name] ?? 0) + t;
    },
    onPhase: (name, t) => {
      current.phases[name] = (current.phases[name] ?? 0) + t;
    },
  };
  const backend = await createSdBackend({
    modelDir: dir,
    modelId: 'bench',
    executionProviders: ['cpu'],
    options: sdOptions.parse({ hooks, intraOpNumThreads: threads }),
  });
  const signal = new AbortController().signal;
  await backend.run({ ...input, steps: 1 }, { signal }); // warm-up
  const all: Round[] = [];
  let image: ImagineIO['out']['images'][number] | undefined;
  for (let r = 0; r < rounds; r++) {
    current = { total: 0, sessions: {}, phases: {} };
    const t0 = performance.now();
    image = (await backend.run(input, { signal })).images[0];
    current.total = performance.now() - t0;
    all.push(current);
  }
  await backend.dispose();
  const byTotal = [...all].sort((a, b) => a.total - b.total);
  if (!image) throw new Error('imagine bench: no image');
  return { rounds: all, median: byTotal[Math.floor(byTotal.length / 2)] as Round, image };
}

function report(title: string, r: Round): boolean {
  const model = Object.values(r.sessions).reduce((a, b) => a + b, 0);
  const glue = r.total - model;
  const share = (glue / model) * 100;
  console.log(`\n${title}`);
  console.log(`  total                 ${ms(r.total)}`);
  console.log(`  in session.run        ${ms(model)}   (${((model / r.total) * 100).toFixed(1)} % of total)`);
  for (const [name, t] of Object.entries(r.sessions)) console.log(`    ${name.padEnd(19)} ${ms(t)}`);
  console.log(
    `  glue (total − model)  ${ms(glue)}   = ${share.toFixed(2)} % of model time  (goal ≤ 5 %: ${share <= 5 ? 'met' : 'NOT met'})`,
  );
  for (const [name, t] of Object.entries(r.phases))
    console.log(`    ${name.padEnd(19)} ${t.toFixed(1).padStart(7)} ms`);
  return share <= 5;
}

export async function run(args: string[]): Promise<void> {
  const steps = flag(args, 'steps', 4);
  const size = flag(args, 'size', 512);
  const rounds = flag(args, 'rounds', 3);
  const threads = flag(args, 'threads', 0);
  const root = await mkdtemp(join(tmpdir(), 'iris-bench-imagine-'));
  try {
    console.log(
      `imagine bench: ${size}x${size}, ${rounds} rounds (median shown), ${cpus().length} CPUs, threads ${threads || 'auto'}`,
    );
    console.log(
      'colour-world SD with realistic per-step work (UNet ≈ 33 GMACs per image per call at 512², SD 1.5 ≈ 400; VAE decoder ≈ 12 GMACs, SD ≈ 1200)',
    );
    console.log('no GPU on this machine: real it/s with SD-Turbo-sized weights is not measured here');
    const base = { prompt: 'a red square', seed: 1, width: size, height: size, count: 1 };
    await synthSd(join(root, 'v1-5'), { variant: 'v1-5', cost: 'bench' });
    const v15 = await measure(
      join(root, 'v1-5'),
      { ...base, steps, guidance: 7.5, negative: 'blue' },
      rounds,
      threads,
    );
    await synthSd(join(root, 'turbo'), { variant: 'turbo', cost: 'bench' });
    const turbo = await measure(join(root, 'turbo'), { ...base, steps: 1, guidance: 0 }, rounds, threads);
    const ok1 = report(
      `v1-5 layout (fp32), guidance 7.5 (batch 2 per UNet call), PNDM, ${steps} steps`,
      v15.median,
    );
    const ok2 = report('turbo layout (fp16 I/O), no guidance, Euler, 1 step', turbo.median);
    const perStep = median(v15.rounds.map((r) => (r.sessions.unet ?? 0) / (steps + 1)));
    console.log(
      `\nUNet per call (v1-5 layout, batch 2): ${perStep.toFixed(0)} ms → ${(1000 / perStep).toFixed(2)} it/s on this CPU`,
    );
    console.log(ok1 && ok2 ? 'glue ≤ 5 % of model time: met' : 'glue ≤ 5 % of model time: NOT met');
    reportTrust(turbo.median.total, await trustCosts(turbo.image, rounds));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/**
 * What /imagine's trust steps add per generated image, next to the time to generate it (imagine.ts):
 * the safety classifier (nsfwjs MobileNetV2 on TensorFlow.js WebAssembly: the real model), the caption
 * for the alt text (the colour-world Florence-2: the pipeline's own cost, not a real model's; real
 * Florence-2-base on this CPU is far slower), the provenance XMP (building the packet and inserting
 * its chunk) and the signed C2PA manifest. Medians of `rounds` runs after a warm-up; first loads are shown apart.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signC2pa } from '../src/core/provenance/c2pa.js';
import { withPngText } from '../src/core/provenance/png-text.js';
import { provenanceXmp, XMP_PNG_KEYWORD } from '../src/core/provenance/xmp.js';
import { synthFlorence2 } from '../src/demo/colourworld/florence2.js';
import { createFlorence2Captioner } from '../src/models/caption/florence2.js';
import { florence2Options, nsfwjsOptions } from '../src/models/options.js';
import { createNsfwjsClassifier } from '../src/models/safety/nsfwjs.js';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function timed(rounds: number, fn: () => Promise<unknown>): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

/** Per-image cost of the safety check, the caption and the provenance XMP for `png` (a generated image). */
export async function trustCosts(
  png: { png: Buffer; width: number; height: number; seed: number },
  rounds: number,
): Promise<{
  safetyLoad: number;
  safety: number;
  captionLoad: number;
  caption: number;
  provenance: number;
  c2pa: number;
}> {
  const signal = new AbortController().signal;
  let t0 = performance.now();
  const classifier = await createNsfwjsClassifier({
    modelDir: '',
    modelId: 'MobileNetV2',
    executionProviders: ['cpu'],
    options: nsfwjsOptions.parse({}),
  });
  const safetyLoad = performance.now() - t0;
  const safety = await timed(rounds, () => classifier.run({ images: [png.png] }, { signal }));
  await classifier.dispose();

  const root = await mkdtemp(join(tmpdir(), 'iris-bench-trust-'));
  try {
    await synthFlorence2(root);
    t0 = performance.now();
    const captioner = await createFlorence2Captioner({
      modelDir: root,
      modelId: 'onnx-community/Florence-2-base-ft',
      executionProviders: ['cpu'],
      options: florence2Options.parse({}),
    });
    const captionLoad = performance.now() - t0;
    const image = {
      name: 'x.png',
      bytes: png.png,
      format: 'png' as const,
      width: png.width,
      height: png.height,
    };
    const caption = await timed(rounds, () => captioner.run({ image, detail: 'detailed' }, { signal }));
    await captioner.dispose();

    const provenance = await timed(rounds * 10, async () => {
      const xmp = provenanceXmp({
        generator: 'iris',
        model: 'onnxruntime/sd-turbo',
        seed: png.seed,
        prompt: 'a red square',
      });
      return withPngText(png.png, { [XMP_PNG_KEYWORD]: xmp }, [XMP_PNG_KEYWORD]);
    });
    const credentials = { certificate: '', key: '', credentialsDir: join(root, 'c2pa') };
    const c2pa = await timed(rounds, () =>
      signC2pa(png.png, { model: 'onnxruntime/sd-turbo', seed: png.seed, version: '0.1.0' }, credentials),
    );
    return { safetyLoad, safety, captionLoad, caption, provenance, c2pa };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

export function reportTrust(generateMs: number, c: Awaited<ReturnType<typeof trustCosts>>): void {
  const line = (name: string, t: number, note: string) =>
    console.log(
      `  ${name.padEnd(22)} ${t.toFixed(1).padStart(8)} ms/image  = ${((t / generateMs) * 100).toFixed(1).padStart(5)} % of generating it   ${note}`,
    );
  console.log(`\nper generated image, next to generating it (turbo layout, ${generateMs.toFixed(0)} ms):`);
  line(
    'safety (nsfwjs)',
    c.safety,
    `real MobileNetV2, WebAssembly; first load ${c.safetyLoad.toFixed(0)} ms`,
  );
  line(
    'caption (Florence-2)',
    c.caption,
    `colour-world weights: pipeline cost only; first load ${c.captionLoad.toFixed(0)} ms`,
  );
  line('provenance (XMP)', c.provenance, 'packet + iTXt chunk');
  line('C2PA manifest', c.c2pa, 'Ed25519 signature + pixel hash, credentials read per image');
  line('all together', c.safety + c.caption + c.provenance + c.c2pa, '');
}

/**
 * Deterministic noise for diffusion: same seed → same latents → byte-identical PNG on one machine.
 *
 * - PRNG: xoshiro128** (Blackman & Vigna), 32-bit state words, seeded by running splitmix32 over the
 *   seed (a whole number 0 … 2³²−1). Small, fast, well tested, and not Math.random (which cannot be seeded).
 * - Normal variates: Box–Muller on two uniforms u1 ∈ (0, 1], u2 ∈ [0, 1): z0 = √(−2 ln u1)·cos(2πu2),
 *   z1 = √(−2 ln u1)·sin(2πu2); both are used, in that order.
 * - Image i of a request uses seed + i (mod 2³²), so a reroll or a variation of image i needs only its seed.
 *
 * V8's Math.log/sin/cos are fdlibm ports, so the stream is the same on every machine for a given Node
 * version; onnxruntime's CPU kernels are deterministic for a fixed thread count, which is what "identical
 * bytes on one machine" relies on.
 */

function splitmix32(state: number): [number, number] {
  const s = (state + 0x9e3779b9) >>> 0;
  let z = s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return [s, (z ^ (z >>> 16)) >>> 0];
}

export class SeededRandom {
  // xoshiro128** state as four uint32 numbers (plain fields: this runs for every latent value)
  #a: number;
  #b: number;
  #c: number;
  #d: number;
  #spare = Number.NaN;

  constructor(seed: number) {
    let state = seed >>> 0;
    const words: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [next, out] = splitmix32(state);
      state = next;
      words.push(out);
    }
    [this.#a, this.#b, this.#c, this.#d] = words as [number, number, number, number];
    if ((this.#a | this.#b | this.#c | this.#d) === 0) this.#a = 1; // the all-zero state is a fixed point
  }

  /** Next 32-bit unsigned integer (xoshiro128**). */
  nextUint32(): number {
    const b = this.#b;
    const x = Math.imul(b, 5);
    const result = Math.imul((x << 7) | (x >>> 25), 9) >>> 0;
    const t = b << 9;
    this.#c ^= this.#a;
    this.#d ^= b;
    this.#b ^= this.#c;
    this.#a ^= this.#d;
    this.#c ^= t;
    this.#d = (this.#d << 11) | (this.#d >>> 21);
    return result;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Standard normal (Box–Muller; the second variate of each pair is kept for the next call). */
  normal(): number {
    if (!Number.isNaN(this.#spare)) {
      const z = this.#spare;
      this.#spare = Number.NaN;
      return z;
    }
    const u1 = 1 - this.uniform(); // (0, 1]: log never sees 0
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    const a = 2 * Math.PI * u2;
    this.#spare = r * Math.sin(a);
    return r * Math.cos(a);
  }

  /** n standard normals. */
  normals(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal();
    return out;
  }
}

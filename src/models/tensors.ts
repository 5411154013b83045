/**
 * Tensor glue shared by the onnxruntime backends (SD, CLIP): fp16 ⇄ fp32 and tensors in the dtype a
 * session's own metadata asks for, so one code path serves fp32 and fp16 exports and int32/int64 ids.
 */
import * as ort from 'onnxruntime-node';
import { BackendError } from '../errors.js';

export type SessionValueMeta = { name: string; type: string; shape: readonly (number | string)[] };

/** Inputs or outputs of a session by name (type 'float32', 'float16', 'int64', …; shape with symbolic dims as strings). */
export function valueMeta(
  list: readonly ort.InferenceSession.ValueMetadata[],
): Map<string, SessionValueMeta> {
  const out = new Map<string, SessionValueMeta>();
  for (const m of list) {
    if (m.isTensor) out.set(m.name, { name: m.name, type: m.type, shape: m.shape });
    else out.set(m.name, { name: m.name, type: 'non-tensor', shape: [] });
  }
  return out;
}

/** float32 → IEEE half, round to nearest even (overflow → ±inf, tiny → subnormal or ±0). */
export function toFloat16(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  for (let i = 0; i < src.length; i++) {
    f32[0] = src[i] as number;
    const x = u32[0] as number;
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    let mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 : 0);
      continue;
    }
    const e = exp - 127 + 15;
    if (e >= 31) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (e <= 0) {
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      mant |= 0x800000;
      const shift = 14 - e;
      let h = mant >>> shift;
      const rem = mant & ((1 << shift) - 1);
      const half = 1 << (shift - 1);
      if (rem > half || (rem === half && h & 1)) h++;
      out[i] = sign | h;
      continue;
    }
    let h = (e << 10) | (mant >>> 13);
    const rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // may carry into the exponent: still correct
    out[i] = sign | h;
  }
  return out;
}

/** All 65536 halves as float32 (a table lookup per value instead of arithmetic; 256 KB, built at import). */
function halfTable(): Float32Array {
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >>> 10) & 0x1f;
    const m = h & 0x3ff;
    table[h] =
      e === 0
        ? sign * m * 2 ** -24
        : e === 31
          ? m
            ? Number.NaN
            : sign * Number.POSITIVE_INFINITY
          : sign * (1 + m / 1024) * 2 ** (e - 15);
  }
  return table;
}
const HALF_TO_FLOAT: Readonly<Float32Array> = halfTable();

export function fromFloat16(src: Uint16Array): Float32Array {
  const table = HALF_TO_FLOAT;
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = table[src[i] as number] as number;
  return out;
}

/** A float tensor in the dtype the session wants. */
export function floatTensor(type: string, data: Float32Array, dims: readonly number[]): ort.Tensor {
  if (type === 'float32') return new ort.Tensor('float32', data, dims);
  if (type === 'float16') return new ort.Tensor('float16', toFloat16(data), dims);
  throw new BackendError('bad_model', `expected a float input, the model wants ${type}`, {
    isRetryable: false,
  });
}

/** Any float output as float32. */
export function tensorToFloat32(t: ort.Tensor): Float32Array {
  if (t.type === 'float32') return t.data as Float32Array;
  if (t.type === 'float16') {
    const d = t.data as unknown;
    if (d instanceof Uint16Array) return fromFloat16(d);
    return Float32Array.from(d as ArrayLike<number>); // a runtime with Float16Array
  }
  throw new BackendError('bad_model', `expected a float output, got ${t.type}`, { isRetryable: false });
}

/** Integer ids as the session's dtype. */
export function idsTensor(type: string, rows: number[][]): ort.Tensor {
  const flat = rows.flat();
  const dims = [rows.length, rows[0]?.length ?? 0];
  if (type === 'int64')
    return new ort.Tensor(
      'int64',
      BigInt64Array.from(flat, (v) => BigInt(v)),
      dims,
    );
  if (type === 'int32') return new ort.Tensor('int32', Int32Array.from(flat), dims);
  throw new BackendError('bad_model', `input_ids of type ${type} is not supported`, { isRetryable: false });
}

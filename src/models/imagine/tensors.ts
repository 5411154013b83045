/** SD-specific tensor glue; the shared fp16/fp32 and dtype helpers are in ../tensors.ts. */
import * as ort from 'onnxruntime-node';
import { BackendError } from '../../errors.js';
import { type SessionValueMeta, toFloat16 } from '../tensors.js';

/**
 * The UNet's timestep: dtype from metadata (float32/float16/int64/int32); shape [] for a scalar, [d] for
 * a fixed length d, and [batch] for a symbolic dim (diffusers' UNet broadcasts either).
 */
export function timestepTensor(meta: SessionValueMeta, t: number, batch: number): ort.Tensor {
  const rank = meta.shape.length;
  const first = meta.shape[0];
  const n = rank === 0 ? 1 : typeof first === 'number' && first > 0 ? first : batch;
  const dims = rank === 0 ? [] : [n];
  switch (meta.type) {
    case 'float32':
      return new ort.Tensor('float32', new Float32Array(n).fill(t), dims);
    case 'float16':
      return new ort.Tensor('float16', toFloat16(new Float32Array(n).fill(t)), dims);
    case 'int64':
      return new ort.Tensor('int64', new BigInt64Array(n).fill(BigInt(Math.round(t))), dims);
    case 'int32':
      return new ort.Tensor('int32', new Int32Array(n).fill(Math.round(t)), dims);
    default:
      throw new BackendError('bad_model', `timestep of type ${meta.type} is not supported`, {
        isRetryable: false,
      });
  }
}

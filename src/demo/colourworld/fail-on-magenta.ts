import type { Graph } from './onnx.js';

/**
 * `value`, unless some RGB row of `rgb` ([..., 3] in [0, 1]) is magenta (r − g + b > 1.5): then the run
 * fails (a Gather out of its data's bounds), as a real encoder can fail on one bad input of a batch.
 */
export function magentaFails(g: Graph, rgb: string, value: string): string {
  const score = g.node('MatMul', [rgb, g.f32([1, -1, 1], [3, 1])]);
  const bad = g.node(
    'Cast',
    [g.node('Greater', [g.node('ReduceMax', [score], { keepdims: 0 }), g.scalar(1.5)])],
    {
      to: 7,
    },
  );
  const zero = g.node('Gather', [g.f32([0], [1]), bad]); // index 1 of a 1-element tensor: out of bounds
  return g.node('Add', [value, g.node('Mul', [zero, g.scalar(0)])]);
}

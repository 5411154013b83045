/**
 * A tiny ONNX graph builder over `onnx-proto`, used to write colour-world models (small graphs with
 * the real models' input/output names, shapes and dtypes, and weights chosen by hand).
 *
 * ```ts
 * const g = new Graph('clip_vision');
 * const px = g.input('pixel_values', 'float32', ['batch_size', 3, 8, 8]);
 * const mean = g.node('ReduceMean', [px, g.i64([2, 3])], { keepdims: 0 });
 * const emb = g.node('Add', [g.node('MatMul', [mean, g.f32(w, [3, 7])]), g.f32(b, [7])]);
 * g.output(g.rename(emb, 'image_embeds'), 'float32', ['batch_size', 7]);
 * await writeFile(path, g.toBytes());
 * ```
 *
 * Opset 18 by default (ReduceMean/ReduceSum take `axes` as an input; there is no Gelu op: use
 * `gelu()` below, which onnxruntime fuses back into one kernel).
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export type ElemType = 'float32' | 'float16' | 'int64' | 'int32' | 'bool' | 'uint8';
export type Dim = number | string;

const ELEM: Record<ElemType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float16: onnx.TensorProto.DataType.FLOAT16,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  bool: onnx.TensorProto.DataType.BOOL,
  uint8: onnx.TensorProto.DataType.UINT8,
};

/** Wrap a number to force a FLOAT attribute (plain integers are written as INT). */
export class FloatAttr {
  constructor(readonly value: number) {}
}
export const float = (v: number): FloatAttr => new FloatAttr(v);

export type AttrValue = number | FloatAttr | string | number[] | FloatAttr[] | string[] | Graph;

export type TypedArray = Float32Array | BigInt64Array | Int32Array | Uint8Array;

function elemOf(data: TypedArray): ElemType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int32Array) return 'int32';
  return 'uint8';
}

function valueInfo(name: string, elem: ElemType, dims: readonly Dim[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType: ELEM[elem],
        shape: onnx.TensorShapeProto.create({
          dim: dims.map((d) =>
            typeof d === 'number'
              ? onnx.TensorShapeProto.Dimension.create({ dimValue: d })
              : onnx.TensorShapeProto.Dimension.create({ dimParam: d }),
          ),
        }),
      }),
    }),
  });
}

function attribute(name: string, v: AttrValue) {
  const T = onnx.AttributeProto.AttributeType;
  if (v instanceof Graph) return onnx.AttributeProto.create({ name, type: T.GRAPH, g: v.toGraphProto() });
  if (v instanceof FloatAttr) return onnx.AttributeProto.create({ name, type: T.FLOAT, f: v.value });
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) return onnx.AttributeProto.create({ name, type: T.FLOAT, f: v });
    return onnx.AttributeProto.create({ name, type: T.INT, i: v });
  }
  if (typeof v === 'string') {
    return onnx.AttributeProto.create({ name, type: T.STRING, s: new TextEncoder().encode(v) });
  }
  if (v.length > 0 && typeof v[0] === 'string') {
    return onnx.AttributeProto.create({
      name,
      type: T.STRINGS,
      strings: (v as string[]).map((s) => new TextEncoder().encode(s)),
    });
  }
  const nums = v as (number | FloatAttr)[];
  if (nums.some((x) => x instanceof FloatAttr || !Number.isInteger(x))) {
    return onnx.AttributeProto.create({
      name,
      type: T.FLOATS,
      floats: nums.map((x) => (x instanceof FloatAttr ? x.value : x)),
    });
  }
  return onnx.AttributeProto.create({ name, type: T.INTS, ints: nums as number[] });
}

export class Graph {
  private readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  private readonly inits: InstanceType<typeof onnx.TensorProto>[] = [];
  private readonly inputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private readonly outputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private readonly names = new Set<string>();
  private counter = 0;

  /**
   * `namePrefix` keeps a subgraph's generated names (an If branch's) apart from its parent's: ONNX
   * forbids a subgraph from redefining a name of the enclosing scope.
   */
  constructor(
    readonly name: string,
    private readonly namePrefix = '',
  ) {}

  /** A fresh value name with the given prefix. */
  fresh(prefix = 't'): string {
    let n: string;
    do n = `${this.namePrefix}${prefix}_${this.counter++}`;
    while (this.names.has(n));
    this.names.add(n);
    return n;
  }

  input(name: string, elem: ElemType, dims: readonly Dim[]): string {
    this.names.add(name);
    this.inputs.push(valueInfo(name, elem, dims));
    return name;
  }

  /** Declare `name` (already produced by a node) as a graph output. */
  output(name: string, elem: ElemType, dims: readonly Dim[]): string {
    this.outputs.push(valueInfo(name, elem, dims));
    return name;
  }

  /** An initializer (a weight). Returns its name. */
  init(data: TypedArray, dims: readonly number[], name?: string): string {
    const n = name ?? this.fresh('w');
    this.names.add(n);
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== data.length) throw new Error(`initializer ${n}: ${data.length} values for dims [${dims}]`);
    this.inits.push(
      onnx.TensorProto.create({
        name: n,
        dims: [...dims],
        dataType: ELEM[elemOf(data)],
        rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      }),
    );
    return n;
  }

  f32(values: ArrayLike<number>, dims: readonly number[] = [values.length], name?: string): string {
    return this.init(Float32Array.from(values), dims, name);
  }

  i64(values: readonly number[], dims: readonly number[] = [values.length], name?: string): string {
    return this.init(
      BigInt64Array.from(values, (v) => BigInt(v)),
      dims,
      name,
    );
  }

  /** A scalar float constant (dims []). */
  scalar(v: number): string {
    return this.init(Float32Array.of(v), []);
  }

  /** Add a node with one output; returns the output name. */
  node(op: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}, out?: string): string {
    return this.nodeN(op, inputs, 1, attrs, out ? [out] : undefined)[0] as string;
  }

  /** Add a node with `n` outputs (pass '' in inputs for an omitted optional input). */
  nodeN(
    op: string,
    inputs: readonly string[],
    n: number,
    attrs: Record<string, AttrValue> = {},
    outs?: string[],
  ): string[] {
    const outputs = outs ?? Array.from({ length: n }, () => this.fresh(op.toLowerCase()));
    for (const o of outputs) this.names.add(o);
    this.nodes.push(
      onnx.NodeProto.create({
        opType: op,
        name: this.fresh(`${op}_node`),
        input: [...inputs],
        output: outputs,
        attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
      }),
    );
    return outputs;
  }

  /** Give a value a public name (an Identity node), e.g. to expose it as a graph output. */
  rename(value: string, name: string): string {
    return this.node('Identity', [value], {}, name);
  }

  /** GELU by the exact erf formula: 0.5·x·(1 + erf(x/√2)). */
  gelu(x: string): string {
    const e = this.node('Erf', [this.node('Div', [x, this.scalar(Math.SQRT2)])]);
    const onePlus = this.node('Add', [e, this.scalar(1)]);
    return this.node('Mul', [this.node('Mul', [x, onePlus]), this.scalar(0.5)]);
  }

  /** x / max(‖x‖₂, eps) along the last axis. */
  l2normalize(x: string, eps = 1e-12): string {
    const sq = this.node('ReduceSum', [this.node('Mul', [x, x]), this.i64([-1])], { keepdims: 1 });
    const norm = this.node('Sqrt', [this.node('Max', [sq, this.scalar(eps * eps)])]);
    return this.node('Div', [x, norm]);
  }

  /** The graph alone: a model's main graph, or a subgraph attribute (If's then_branch / else_branch). */
  toGraphProto() {
    return onnx.GraphProto.create({
      name: this.name,
      node: this.nodes,
      initializer: this.inits,
      input: this.inputs,
      output: this.outputs,
    });
  }

  toModel(opset = 18) {
    return onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'iris-colourworld',
      opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: opset })],
      graph: this.toGraphProto(),
    });
  }

  toBytes(opset = 18): Uint8Array {
    return onnx.ModelProto.encode(this.toModel(opset)).finish();
  }
}

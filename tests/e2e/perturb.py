#!/usr/bin/python3
"""Writes altered copies of an ONNX model, to test the checkers themselves (negative controls) and
to have a reference for what ternarization does to a model's outputs.

usage: /usr/bin/python3 perturb.py MODE IN.onnx OUT.onnx [--seed N] [--scale X] [--threshold T]
                                   [--ops Conv,MatMul,Gemm] [--min-elements N]

MODE
  noise    adds Gaussian noise of relative size --scale (default 1e-3 of the tensor's RMS) to the
           largest float tensor (initializer or Constant); everything else is kept
  twn      reference TWN ternarization (Li et al. 2016) of every float weight with >= 2 dims that is
           input 1 of a node whose op is in --ops: per output channel (axis 0; the last axis for
           MatMul weights, which are [in, out]),
           delta = T * mean|w|, alpha = mean of |w| over |w| > delta, w -> alpha*sign(w) where
           |w| > delta else 0; biases, norms, 1-D tensors and weights with fewer than
           --min-elements elements are kept
  storage  rewrites the largest raw_data float tensor with float_data (same values, different
           bytes on disk): onnx_check.py must call it identical, cmp must not
  attr     changes one integer attribute of a node (a structural change onnx_check.py must find)

Prints one JSON line describing what was changed. Run with /usr/bin/python3 (python3-onnx).
"""

import argparse
import json
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def tensors(graph):
    """Yields (tensor_proto, owner_description) for initializers and Constant values."""
    for t in graph.initializer:
        yield t, t.name
    for node in graph.node:
        for a in node.attribute:
            if a.type == onnx.AttributeProto.TENSOR:
                yield a.t, node.output[0] if node.output else node.name
            elif a.type == onnx.AttributeProto.GRAPH:
                yield from tensors(a.g)
            elif a.type == onnx.AttributeProto.GRAPHS:
                for g in a.graphs:
                    yield from tensors(g)


def replace_payload(t, arr):
    new = numpy_helper.from_array(arr.astype(numpy_helper.to_array(t).dtype), t.name)
    t.ClearField("float_data")
    t.ClearField("double_data")
    t.raw_data = new.raw_data


def main():
    ap = argparse.ArgumentParser(prog="perturb.py")
    ap.add_argument("mode", choices=["noise", "twn", "storage", "attr"])
    ap.add_argument("inp")
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scale", type=float, default=1e-3)
    ap.add_argument("--threshold", type=float, default=0.7)
    ap.add_argument("--ops", default="Conv,MatMul,Gemm")
    ap.add_argument("--min-elements", type=int, default=1024,
                    help="twn: keep smaller weights (default 1024, as tcpack)")
    args = ap.parse_args()
    m = onnx.load(args.inp)
    floats = [(t, o) for t, o in tensors(m.graph) if t.data_type == onnx.TensorProto.FLOAT]
    info = {"mode": args.mode, "in": args.inp, "out": args.out}

    if args.mode == "noise":
        t, owner = max(floats, key=lambda x: int(np.prod(x[0].dims)))
        a = numpy_helper.to_array(t).astype(np.float64)
        rms = float(np.sqrt(np.mean(a**2)))
        rng = np.random.default_rng(args.seed)
        replace_payload(t, a + rng.standard_normal(a.shape) * rms * args.scale)
        info.update(tensor=owner, shape=list(t.dims), noise_rms=rms * args.scale)
    elif args.mode == "twn":
        ops = set(args.ops.split(","))
        weights = set()

        matmul = set()

        def collect(g):
            for n in g.node:
                if n.op_type in ops and len(n.input) > 1:
                    weights.add(n.input[1])
                    if n.op_type == "MatMul":
                        matmul.add(n.input[1])
                for a in n.attribute:
                    if a.type == onnx.AttributeProto.GRAPH:
                        collect(a.g)

        collect(m.graph)
        done = []
        total = zeros = 0
        for t, owner in floats:
            if owner not in weights and t.name not in weights:
                continue
            a = numpy_helper.to_array(t).astype(np.float64)
            if a.ndim < 2 or a.size < args.min_elements:
                continue
            # channel axis as tcpack's "auto": MatMul weights [in, out] the last, others axis 0
            if a.ndim == 2 and (owner in matmul or t.name in matmul):
                a = a.T
            w = a.reshape(a.shape[0], -1)
            absw = np.abs(w)
            delta = args.threshold * absw.mean(axis=1, keepdims=True)
            mask = absw > delta
            cnt = np.maximum(mask.sum(axis=1, keepdims=True), 1)
            alpha = (absw * mask).sum(axis=1, keepdims=True) / cnt
            q = np.where(mask, np.sign(w) * alpha, 0.0).reshape(a.shape)
            if a.ndim == 2 and (owner in matmul or t.name in matmul):
                q = q.T
            replace_payload(t, np.ascontiguousarray(q))
            total += q.size
            zeros += int((q == 0).sum())
            done.append(owner)
        info.update(tensors=len(done), weights=total, sparsity=zeros / max(total, 1))
    elif args.mode == "storage":
        raw = [(t, o) for t, o in floats if t.raw_data]
        t, owner = max(raw, key=lambda x: int(np.prod(x[0].dims)))
        a = numpy_helper.to_array(t)
        t.ClearField("raw_data")
        t.float_data.extend(a.ravel().tolist())
        info.update(tensor=owner, elements=int(a.size))
    else:  # attr
        for n in m.graph.node:
            for a in n.attribute:
                if a.type == onnx.AttributeProto.INT and n.op_type != "Constant":
                    a.i += 1
                    info.update(node=n.name or n.output[0], op=n.op_type, attribute=a.name, new=a.i)
                    break
            if "node" in info:
                break
    onnx.save(m, args.out)
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())

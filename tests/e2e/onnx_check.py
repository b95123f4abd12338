#!/usr/bin/python3
"""Checks ONNX models with python3-onnx and compares two of them.

usage: /usr/bin/python3 onnx_check.py [--lossy] [--max-list N] [--compact] MODEL [MODEL2]

Run it with Debian's python (/usr/bin/python3, packages python3-onnx and python3-numpy).

One model: onnx.checker.check_model on the file (so external data is resolved next to it), with
full_check=True (strict shape inference) where it works. Two models: both are checked, and then
compared as graphs:
  * everything in the ModelProto except tensor payloads, field by field (ir_version, opsets,
    producer, metadata_props, functions, the graph's name, inputs, outputs, value_info, and every
    node in order with op_type, domain, name, inputs, outputs and attributes, subgraphs of
    If/Loop/Scan recursively); float attributes are compared bit for bit;
  * every tensor (graph initializers, sparse initializers, Constant-node and other tensor
    attributes, at any subgraph depth): name, data_type, dims, and its payload decoded with
    numpy_helper.to_array and compared as bytes (so the same values stored as raw_data in one
    model and as float_data in the other count as identical; that difference is reported as
    "storage_differences", for information).

The verdict is printed as JSON on stdout. Exit status 0 when the checks pass, 1 otherwise:
  * every model passes check_model; a full_check failure counts only when MODEL passed full_check
    and MODEL2 did not (a round trip must not lose what the original had), or with one model;
  * with two models: no structural difference, and every tensor payload bit-identical; with
    --lossy, payload differences are allowed (quantized round trips) and reported with their
    relative L2 error, but dtype and shape must still match and payloads must be finite where
    the original's were.
Exit status 2 on a usage error.
"""

import argparse
import hashlib
import json
import math
import os
import struct
import sys

try:
    import numpy as np
    import onnx
    from onnx import numpy_helper
    from google.protobuf.descriptor import FieldDescriptor
except ImportError as e:  # pragma: no cover
    sys.stderr.write(
        f"onnx_check.py: {e}; run with /usr/bin/python3 and install python3-onnx python3-numpy\n"
    )
    sys.exit(1)

TENSOR_META_FIELDS = ("name", "data_type", "dims", "doc_string")
# Fields of a TensorProto that only say how or where the payload is stored.
TENSOR_STORAGE_FIELDS = (
    "raw_data", "float_data", "int32_data", "string_data", "int64_data", "double_data",
    "uint64_data", "external_data", "data_location",
)


def first_line(e):
    s = str(e).strip()
    return s.splitlines()[0][:500] if s else repr(e)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check(path):
    """check_model and, where it works, check_model(full_check=True) on one file.

    The plain check is given the path (external data is then resolved next to the model). The full
    check is given the loaded ModelProto: in onnx 1.12, check_model(PATH, full_check=True) writes
    the shape-inferred model back over PATH (it adds value_info), which must never happen to the
    files under test. Models over 2 GiB cannot be held in one ModelProto; their full check is
    skipped.
    """
    res = {"path": path, "size": os.path.getsize(path)}
    try:
        onnx.checker.check_model(path)
        res["checker"] = "ok"
    except Exception as e:  # onnx raises ValidationError, and others for broken files
        res["checker"] = "fail"
        res["checker_error"] = first_line(e)
    if res["size"] >= (2 << 30) - (1 << 20):
        res["full_check"] = "skipped"
        res["full_check_error"] = "model file over 2 GiB"
        return res
    try:
        model = onnx.load(path)
        onnx.checker.check_model(model, full_check=True)
        res["full_check"] = "ok"
    except Exception as e:
        res["full_check"] = "fail"
        res["full_check_error"] = first_line(e)
    return res


def f32_bits(x):
    return struct.pack("<f", x)


class Comparer:
    def __init__(self, lossy, max_list):
        self.lossy = lossy
        self.max_list = max_list
        self.struct_diffs = []
        self.n_struct_diffs = 0
        self.tensors = 0
        self.tensor_bytes = 0
        self.payload_identical = 0
        self.payload_diffs = []
        self.n_payload_diffs = 0
        self.storage_diffs = []
        self.n_storage_diffs = 0
        self.lossy_bad = []
        self.worst_rel_l2 = 0.0

    def sdiff(self, path, a, b):
        self.n_struct_diffs += 1
        if len(self.struct_diffs) < self.max_list:
            self.struct_diffs.append({"path": path, "a": short(a), "b": short(b)})

    def message(self, path, a, b):
        if a.DESCRIPTOR.full_name == "onnx.TensorProto":
            self.tensor(path, a, b)
            return
        for fd in a.DESCRIPTOR.fields:
            va = getattr(a, fd.name)
            vb = getattr(b, fd.name)
            p = f"{path}.{fd.name}"
            if fd.label == FieldDescriptor.LABEL_REPEATED:
                if len(va) != len(vb):
                    self.sdiff(p + ".length", len(va), len(vb))
                    if fd.type != FieldDescriptor.TYPE_MESSAGE:
                        continue
                for i, (xa, xb) in enumerate(zip(va, vb)):
                    self.value(f"{p}[{label(xa, i)}]", fd, xa, xb)
            elif fd.type in (FieldDescriptor.TYPE_MESSAGE, FieldDescriptor.TYPE_GROUP):
                # Unset submessages read as defaults that have submessages of their own (TypeProto
                # nests): descend only into those set on either side.
                if a.HasField(fd.name) or b.HasField(fd.name):
                    self.message(p, va, vb)
            else:
                self.value(p, fd, va, vb)

    def value(self, path, fd, a, b):
        if fd.type in (FieldDescriptor.TYPE_MESSAGE, FieldDescriptor.TYPE_GROUP):
            self.message(path, a, b)
        elif fd.type == FieldDescriptor.TYPE_FLOAT:
            if f32_bits(a) != f32_bits(b):
                self.sdiff(path, a, b)
        elif fd.type == FieldDescriptor.TYPE_DOUBLE:
            if struct.pack("<d", a) != struct.pack("<d", b):
                self.sdiff(path, a, b)
        elif a != b:
            self.sdiff(path, a, b)

    def tensor(self, path, a, b):
        self.tensors += 1
        meta_ok = True
        for f in TENSOR_META_FIELDS:
            va, vb = getattr(a, f), getattr(b, f)
            if f == "dims":
                va, vb = list(va), list(vb)
            if va != vb:
                self.sdiff(f"{path}.{f}", va, vb)
                meta_ok = False
        if a.HasField("segment") or b.HasField("segment"):
            self.message(path + ".segment", a.segment, b.segment)
        sa, sb = storage(a), storage(b)
        if sa != sb:
            self.n_storage_diffs += 1
            if len(self.storage_diffs) < self.max_list:
                self.storage_diffs.append({"path": path, "a": sa, "b": sb})
        try:
            xa = numpy_helper.to_array(a)
            xb = numpy_helper.to_array(b)
        except Exception as e:
            self.sdiff(path + ".payload", "decode error", str(e)[:200])
            return
        self.tensor_bytes += xa.nbytes
        if not meta_ok:
            return
        if xa.dtype == object or xb.dtype == object:  # strings
            same = xa.shape == xb.shape and all(x == y for x, y in zip(xa.ravel(), xb.ravel()))
        else:
            same = xa.shape == xb.shape and xa.dtype == xb.dtype and xa.tobytes() == xb.tobytes()
        if same:
            self.payload_identical += 1
            return
        self.n_payload_diffs += 1
        d = {"path": path, "name": a.name, "dtype": onnx.TensorProto.DataType.Name(a.data_type),
             "shape": list(a.dims)}
        if xa.dtype != object and xa.shape == xb.shape:
            fa = xa.astype(np.float64).ravel()
            fb = xb.astype(np.float64).ravel()
            ua = np.ascontiguousarray(xa).reshape(-1).view(np.uint8).reshape(fa.size, -1)
            ub = np.ascontiguousarray(xb).reshape(-1).view(np.uint8).reshape(fb.size, -1)
            d["elements_differing"] = int((ua != ub).any(axis=1).sum()) if fa.size else 0
            fin_a = np.isfinite(fa)
            fin_b = np.isfinite(fb)
            if (fin_a & ~fin_b).any():
                d["nonfinite_introduced"] = int((fin_a & ~fin_b).sum())
                self.lossy_bad.append(path)
            m = fin_a & fin_b
            diff = fa[m] - fb[m]
            na = float(np.sqrt(np.sum(fa[m] ** 2)))
            nd = float(np.sqrt(np.sum(diff**2)))
            d["max_abs_diff"] = float(np.max(np.abs(diff))) if diff.size else 0.0
            d["rel_l2"] = nd / na if na > 0 else (0.0 if nd == 0 else math.inf)
            if na > 0 and d["rel_l2"] > self.worst_rel_l2:
                self.worst_rel_l2 = d["rel_l2"]
        if len(self.payload_diffs) < self.max_list:
            self.payload_diffs.append(d)


def storage(t):
    fields = [f for f in TENSOR_STORAGE_FIELDS if f not in ("data_location", "external_data")
              and (len(getattr(t, f)) if f != "raw_data" else len(t.raw_data))]
    s = "+".join(fields) or "empty"
    if t.data_location == onnx.TensorProto.EXTERNAL:
        s += "(external)"
    return s


def label(x, i):
    name = getattr(x, "name", None) if hasattr(x, "DESCRIPTOR") else None
    if name:
        return f"{i}:{name}"
    key = getattr(x, "key", None) if hasattr(x, "DESCRIPTOR") else None
    return f"{i}:{key}" if key else str(i)


def short(v):
    if isinstance(v, bytes):
        return v[:40].decode("latin-1") + ("..." if len(v) > 40 else "")
    if isinstance(v, float):
        return v if math.isfinite(v) else str(v)
    if isinstance(v, (int, str, bool)) or v is None:
        return v[:200] if isinstance(v, str) else v
    if isinstance(v, list):
        return v[:20]
    return str(v)[:200]


def main():
    ap = argparse.ArgumentParser(
        prog="onnx_check.py",
        description="onnx.checker on one or two ONNX models, and a graph/tensor comparison of two.",
    )
    ap.add_argument("model")
    ap.add_argument("model2", nargs="?")
    ap.add_argument("--lossy", action="store_true",
                    help="allow tensor payloads to differ (quantized round trip); report them")
    ap.add_argument("--max-list", type=int, default=20, help="differences listed (default 20)")
    ap.add_argument("--compact", action="store_true", help="one-line JSON")
    args = ap.parse_args()

    models = [args.model] + ([args.model2] if args.model2 else [])
    verdict = {"onnx": onnx.__version__, "models": [], "pass": True, "failures": []}
    before = {p: sha256(p) for p in models if os.path.isfile(p)}
    for p in models:
        if not os.path.isfile(p):
            verdict["models"].append({"path": p, "error": "no such file"})
            verdict["pass"] = False
            verdict["failures"].append(f"{p}: no such file")
            continue
        r = check(p)
        verdict["models"].append(r)
        if r["checker"] != "ok":
            verdict["pass"] = False
            verdict["failures"].append(f"{p}: check_model: {r['checker_error']}")
    if len(verdict["models"]) == 2 and all("checker" in m for m in verdict["models"]):
        fa, fb = verdict["models"][0]["full_check"], verdict["models"][1]["full_check"]
        if fa == "ok" and fb != "ok":
            verdict["pass"] = False
            verdict["failures"].append(f"{args.model2}: full_check fails where {args.model} passes")
    elif len(models) == 1 and verdict["models"][0].get("full_check") == "fail":
        verdict["pass"] = False
        verdict["failures"].append(f"{args.model}: full_check: {verdict['models'][0]['full_check_error']}")

    if args.model2 and all("error" not in m for m in verdict["models"]):
        try:
            ma = onnx.load(args.model)
            mb = onnx.load(args.model2)
        except Exception as e:
            verdict["pass"] = False
            verdict["failures"].append(f"load: {e}")
            ma = mb = None
        if ma is not None:
            c = Comparer(args.lossy, args.max_list)
            c.message("model", ma, mb)
            cmp = {
                "lossy": args.lossy,
                "nodes": [count_nodes(ma.graph), count_nodes(mb.graph)],
                "structure_identical": c.n_struct_diffs == 0,
                "structural_differences": c.n_struct_diffs,
                "tensors": c.tensors,
                "tensor_bytes": c.tensor_bytes,
                "tensors_bit_identical": c.payload_identical,
                "tensors_differing": c.n_payload_diffs,
                "storage_differences": c.n_storage_diffs,
            }
            if c.struct_diffs:
                cmp["structural_diff_list"] = c.struct_diffs
            if c.payload_diffs:
                cmp["tensor_diff_list"] = c.payload_diffs
                cmp["worst_rel_l2"] = c.worst_rel_l2
            if c.storage_diffs:
                cmp["storage_diff_list"] = c.storage_diffs
            verdict["compare"] = cmp
            if c.n_struct_diffs:
                verdict["pass"] = False
                verdict["failures"].append(f"{c.n_struct_diffs} structural difference(s)")
            if c.n_payload_diffs and not args.lossy:
                verdict["pass"] = False
                verdict["failures"].append(f"{c.n_payload_diffs} tensor payload(s) not bit-identical")
            if c.lossy_bad:
                verdict["pass"] = False
                verdict["failures"].append(f"{len(c.lossy_bad)} tensor(s) with non-finite values introduced")
    for p, h in before.items():  # the checks must leave the files under test as they were
        if sha256(p) != h:
            verdict["pass"] = False
            verdict["failures"].append(f"{p}: modified while being checked")
    json.dump(verdict, sys.stdout, indent=None if args.compact else 2)
    sys.stdout.write("\n")
    return 0 if verdict["pass"] else 1


def count_nodes(g):
    n = 0
    for node in g.node:
        n += 1
        for a in node.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                n += count_nodes(a.g)
            elif a.type == onnx.AttributeProto.GRAPHS:
                n += sum(count_nodes(x) for x in a.graphs)
    return n


if __name__ == "__main__":
    sys.exit(main())

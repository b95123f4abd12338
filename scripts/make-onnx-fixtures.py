#!/usr/bin/python3
"""Writes the ONNX fixtures of tests/test_onnx.c with an independent writer: Debian's
python3-onnx (onnx.helper, numpy_helper, onnx.save_model), plus a few models assembled
byte by byte where the point is wire-format details python-onnx never writes itself
(non-canonical varints, unpacked repeated fields, unknown fields, hostile lengths).

usage: make-onnx-fixtures.py OUT_DIR [CORPUS_DIR]
  OUT_DIR     fixtures go here (the committed ones are tests/fixtures/onnx/)
  CORPUS_DIR  also copy every model there as a fuzz seed (fuzz/corpus/onnx/)

Needs: apt-get install python3-onnx python3-numpy (scripts/setup-debian.sh --optional).
Deterministic: the same onnx version writes the same bytes.
"""
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = [helper.make_opsetid("", 13)]


def varint(v):
    v &= (1 << 64) - 1
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def field(num, wire, payload):
    """One protobuf field: wire 0 (payload an int), 2 (bytes), 5 (4 bytes)."""
    tag = varint(num << 3 | wire)
    if wire == 0:
        return tag + varint(payload)
    if wire == 2:
        return tag + varint(len(payload)) + payload
    return tag + payload


def model(graph, **kw):
    m = helper.make_model(graph, opset_imports=OPSET, producer_name="make-onnx-fixtures",
                          producer_version="1", **kw)
    return m


def save(m, path, check=True):
    if check:
        onnx.checker.check_model(m)
    with open(path, "wb") as f:
        f.write(m.SerializeToString())


def f32(*shape):
    n = int(np.prod(shape)) if shape else 1
    return (np.arange(n, dtype=np.float32) * 0.25 - 1.0).reshape(shape)


# ---- valid models ------------------------------------------------------------------------------

def dtypes_model():
    T = TensorProto
    inits = [
        numpy_helper.from_array(f32(2, 3), "w_f32_raw"),
        helper.make_tensor("w_f32_data", T.FLOAT, [4], [0.5, -1.25, 3.0e-8, 65504.0]),
        helper.make_tensor("w_f16_i32", T.FLOAT16, [3], [1.0, -2.5, 0.0009765625]),
        numpy_helper.from_array(np.array([[1, -2], [0.5, 1024]], dtype=np.float16), "w_f16_raw"),
        helper.make_tensor("w_bf16_i32", T.BFLOAT16, [3], [1.0, -3.0, 0.15625]),
        helper.make_tensor("w_f64", T.DOUBLE, [2], [3.141592653589793, -1e300]),
        helper.make_tensor("w_i64", T.INT64, [4], [0, -1, 2**62, -(2**63)]),
        helper.make_tensor("w_i32", T.INT32, [4], [1, -1, 2**31 - 1, -(2**31)]),
        helper.make_tensor("w_i8", T.INT8, [4], [0, -128, 127, -1]),
        helper.make_tensor("w_u8", T.UINT8, [3], [0, 128, 255]),
        helper.make_tensor("w_i16", T.INT16, [2], [-32768, 300]),
        helper.make_tensor("w_u16", T.UINT16, [2], [65535, 7]),
        helper.make_tensor("w_bool", T.BOOL, [4], [True, False, False, True]),
        helper.make_tensor("w_u32", T.UINT32, [2], [2**32 - 1, 5]),
        helper.make_tensor("w_u64", T.UINT64, [2], [2**64 - 1, 2**63 + 1]),
        numpy_helper.from_array(np.array([[1, 2], [3, 4]], dtype=np.int64), "w_i64_raw"),
        helper.make_tensor("w_str", T.STRING, [2], [b"kept", b"in the skeleton"]),
        helper.make_tensor("w_c64", T.COMPLEX64, [1], [1 + 2j]),
        helper.make_tensor("w_empty", T.FLOAT, [0, 3], []),
        helper.make_tensor("w_scalar", T.FLOAT, [], [42.0]),
    ]
    node = helper.make_node("Add", ["X", "w_f32_raw"], ["Y"], name="add0")
    g = helper.make_graph([node], "dtypes", [helper.make_tensor_value_info("X", T.FLOAT, [2, 3])],
                          [helper.make_tensor_value_info("Y", T.FLOAT, [2, 3])], inits)
    m = model(g, doc_string="initializers of every dtype the module carries")
    helper.set_model_props(m, {"author": "tcodec tests", "license": "MIT"})
    return m


def constants_model():
    T = TensorProto
    c_raw = numpy_helper.from_array(f32(2, 2), "")
    c_i64 = helper.make_tensor("shape_t", T.INT64, [3], [1, 2, 2])
    nodes = [
        helper.make_node("Constant", [], ["c_raw"], name="const_raw", value=c_raw),
        helper.make_node("Constant", [], ["c_shape"], value=c_i64),
        helper.make_node("Constant", [], ["c_vf"], value_float=1.5),
        helper.make_node("Constant", [], ["c_vfs"], value_floats=[1.0, 2.0, -3.5]),
        helper.make_node("Constant", [], ["c_vi"], value_int=7),
        helper.make_node("Constant", [], ["c_vineg"], value_int=-1),
        helper.make_node("Constant", [], ["c_vis"], value_ints=[1, -2, 300]),
        helper.make_node("Add", ["X", "c_raw"], ["s"], name="add"),
        helper.make_node("Mul", ["s", "c_vf"], ["Y"], name="mul"),
        helper.make_node("ConstantOfShape", ["c_shape"], ["Z"], name="fill",
                         value=helper.make_tensor("", T.FLOAT, [1], [0.75])),
        helper.make_node("ConstantOfShape", ["c_shape"], ["Z2"], name="fill2",
                         value=helper.make_tensor("", T.FLOAT, [1], [0.5])),
    ]
    g = helper.make_graph(nodes, "constants", [helper.make_tensor_value_info("X", T.FLOAT, [2, 2])],
                          [helper.make_tensor_value_info("Y", T.FLOAT, [2, 2]),
                           helper.make_tensor_value_info("Z", T.FLOAT, [1, 2, 2]),
                           helper.make_tensor_value_info("Z2", T.FLOAT, [1, 2, 2])])
    return model(g)


def control_flow_model():
    T = TensorProto
    vi = helper.make_tensor_value_info
    then_g = helper.make_graph(
        [helper.make_node("Add", ["X", "w"], ["then_out"])], "then",
        [], [vi("then_out", T.FLOAT, [2])], [numpy_helper.from_array(np.array([1, 2], np.float32), "w")])
    inner = helper.make_graph(
        [helper.make_node("Identity", ["v"], ["inner_out"])], "inner", [], [vi("inner_out", T.FLOAT, [2])],
        [numpy_helper.from_array(np.array([5, 6], np.float32), "v")])
    else_g = helper.make_graph(
        [helper.make_node("Constant", [], ["k"], value=numpy_helper.from_array(np.array([3, 4], np.float32), "")),
         helper.make_node("Mul", ["X", "w"], ["t"]),
         helper.make_node("If", ["cond"], ["u"], then_branch=inner, else_branch=inner),
         helper.make_node("Add", ["t", "k"], ["t2"]),
         helper.make_node("Add", ["t2", "u"], ["else_out"])], "else",
        [], [vi("else_out", T.FLOAT, [2])], [numpy_helper.from_array(np.array([-1, 0.5], np.float32), "w")])
    body = helper.make_graph(
        [helper.make_node("Constant", [], ["step"], value=numpy_helper.from_array(np.array([0.5, 0.25], np.float32), "")),
         helper.make_node("Add", ["v_in", "step"], ["v_out"]),
         helper.make_node("Identity", ["c_in"], ["c_out"])], "body",
        [vi("i", T.INT64, []), vi("c_in", T.BOOL, []), vi("v_in", T.FLOAT, [2])],
        [vi("c_out", T.BOOL, []), vi("v_out", T.FLOAT, [2])])
    nodes = [
        helper.make_node("If", ["cond"], ["Y"], name="branch", then_branch=then_g, else_branch=else_g),
        helper.make_node("Loop", ["trips", "cond", "X"], ["Z"], name="loop", body=body),
    ]
    g = helper.make_graph(nodes, "control_flow",
                          [vi("cond", T.BOOL, []), vi("X", T.FLOAT, [2])],
                          [vi("Y", T.FLOAT, [2]), vi("Z", T.FLOAT, [2])],
                          [helper.make_tensor("trips", T.INT64, [], [3])])
    return model(g)


def handmade_bytes():
    """Wire-format details python-onnx never writes: a non-canonical int32_data varint (must
    stay in the skeleton), unpacked int64_data, float_data in two packed chunks, an unknown
    field inside a tensor and in the model, a padded length prefix before raw_data."""
    T = TensorProto
    vi = helper.make_tensor_value_info
    g = helper.make_graph([helper.make_node("Identity", ["X"], ["Y"])], "handmade",
                          [vi("X", T.FLOAT, [2])], [vi("Y", T.FLOAT, [2])])
    tensors = [
        field(1, 0, 2) + field(2, 0, T.INT32) + field(8, 2, b"noncanonical") + field(5, 2, b"\x81\x00\x02"),
        field(1, 0, 3) + field(2, 0, T.INT64) + field(8, 2, b"unpacked") +
        field(7, 0, 5) + field(7, 0, -6) + field(7, 0, 2**40),
        field(1, 0, 3) + field(2, 0, T.FLOAT) + field(8, 2, b"chunks") +
        field(4, 2, np.array([1.0], "<f4").tobytes()) + field(4, 2, np.array([2.0, 3.0], "<f4").tobytes()),
        field(1, 0, 2) + field(100, 2, b"unknown-in-tensor") + field(2, 0, T.FLOAT) + field(8, 2, b"padded") +
        varint(9 << 3 | 2) + b"\x88\x80\x00" + np.array([7, 8], "<f4").tobytes(),
        field(1, 0, 2) + field(2, 0, T.INT32) + field(8, 2, b"int32_pos") + field(5, 2, varint(3) + varint(4)),
    ]
    graph = g.SerializeToString() + b"".join(field(5, 2, t) for t in tensors)
    m = model(helper.make_graph([], "x", [], []))
    m.ClearField("graph")
    return m.SerializeToString() + field(7, 2, graph) + field(1000, 0, 12345) + field(1001, 2, b"unknown")


def external_model(folder):
    T = TensorProto
    inits = [numpy_helper.from_array(f32(4, 4), "ext_a"), numpy_helper.from_array(f32(3), "ext_b"),
             helper.make_tensor("inline_i64", T.INT64, [2], [4, 4])]
    g = helper.make_graph([helper.make_node("Add", ["X", "ext_a"], ["Y"])], "external",
                          [helper.make_tensor_value_info("X", T.FLOAT, [4, 4])],
                          [helper.make_tensor_value_info("Y", T.FLOAT, [4, 4])], inits)
    m = model(g)
    onnx.checker.check_model(m)
    os.makedirs(folder, exist_ok=True)
    onnx.save_model(m, os.path.join(folder, "model.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)


# ---- hostile models ----------------------------------------------------------------------------

def ext_tensor(location, offset=None, length=None, dims=(4,)):
    entries = field(1, 2, b"location") + field(2, 2, location)
    kv = [field(13, 2, entries)]
    if offset is not None:
        kv.append(field(13, 2, field(1, 2, b"offset") + field(2, 2, str(offset).encode())))
    if length is not None:
        kv.append(field(13, 2, field(1, 2, b"length") + field(2, 2, str(length).encode())))
    t = b"".join(field(1, 0, d) for d in dims) + field(2, 0, TensorProto.FLOAT) + field(8, 2, b"w")
    return t + b"".join(kv) + field(14, 0, 1)


def with_initializer(tensor_bytes):
    return field(1, 0, 8) + field(7, 2, field(2, 2, b"g") + field(5, 2, tensor_bytes))


def deep_model(depth):
    """`depth` graphs nested through If.then_branch (the main graph counts as one)."""
    g = helper.make_graph([], "g%d" % depth, [], [])
    for i in range(depth - 1, 0, -1):
        node = helper.make_node("If", ["c"], [], then_branch=g, else_branch=helper.make_graph([], "e", [], []))
        g = helper.make_graph([node], "g%d" % i, [], [])
    return model(g).SerializeToString()


def hostile(folder):
    os.makedirs(folder, exist_ok=True)
    base = dtypes_model().SerializeToString()
    four = np.array([1, 2, 3, 4], "<f4").tobytes()
    files = {
        "truncated.onnx": base[: len(base) * 2 // 3],
        "bad_varint.onnx": b"\x08" + b"\xff" * 10 + b"\x01",
        # the initializer claims 10 bytes, its graph holds 2 more, the file goes on after it
        "length_past_end.onnx": field(1, 0, 8) + field(7, 2, field(2, 2, b"g") + varint(5 << 3 | 2) + varint(10) + b"xx") +
        field(6, 2, b"doc string after the graph"),
        "group.onnx": field(1, 0, 8) + varint(7 << 3 | 3) + varint(7 << 3 | 4),
        "raw_size.onnx": with_initializer(field(1, 0, 3) + field(2, 0, TensorProto.FLOAT) + field(8, 2, b"w") + field(9, 2, four)),
        "deep.onnx": deep_model(70),
        "deep_ok.onnx": deep_model(64),
        "ext_dotdot.onnx": with_initializer(ext_tensor(b"../weights.bin")),
        "ext_absolute.onnx": with_initializer(ext_tensor(b"/etc/passwd")),
        "ext_past_eof.onnx": with_initializer(ext_tensor(b"weights.bin", offset=8, length=16)),
        "ext_length.onnx": with_initializer(ext_tensor(b"weights.bin", offset=0, length=12)),
        "ext_ok.onnx": with_initializer(ext_tensor(b"weights.bin", offset=4, length=16)),
        "weights.bin": bytes(range(20)),
    }
    for name, data in files.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    save(dtypes_model(), os.path.join(out, "dtypes.onnx"))
    save(constants_model(), os.path.join(out, "constants.onnx"))
    save(control_flow_model(), os.path.join(out, "control_flow.onnx"))
    hand = handmade_bytes()
    onnx.checker.check_model(onnx.load_from_string(hand))
    with open(os.path.join(out, "handmade.onnx"), "wb") as f:
        f.write(hand)
    external_model(os.path.join(out, "external"))
    hostile(os.path.join(out, "hostile"))
    if len(sys.argv) == 3:
        corpus = sys.argv[2]
        os.makedirs(corpus, exist_ok=True)
        for root, _, names in os.walk(out):
            for name in names:
                if name.endswith(".onnx"):
                    rel = os.path.relpath(os.path.join(root, name), out).replace(os.sep, "_")
                    shutil.copyfile(os.path.join(root, name), os.path.join(corpus, rel))


if __name__ == "__main__":
    main()

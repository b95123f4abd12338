#!/usr/bin/python3
"""Write the safetensors test fixtures from the public format description alone.

An independent writer for tests/test_safetensors.c: Debian's python3 and numpy,
nothing from the safetensors package and nothing from libtcodec. The format:

    8 bytes   N, unsigned little-endian
    N bytes   UTF-8 JSON object, starting with '{', may be padded with spaces:
              {"__metadata__": {str: str}, NAME: {"dtype": D, "shape": [..],
               "data_offsets": [BEGIN, END]}, ...}
    rest      the byte buffer; offsets are relative to its start, tensors
              cover it exactly (no hole, no overlap), END - BEGIN equals
              prod(shape) * bits(D) / 8, which must be whole bytes (F4 and
              F6_* elements are packed), little-endian, C order.

Sharded checkpoints: model.safetensors.index.json = {"metadata": {...},
"weight_map": {tensor: shard file}} next to the shards.

Usage: make-safetensors-fixtures.py [OUT_DIR]   (default: tests/fixtures/safetensors
next to this script's repository). Output is deterministic: same bytes every run.
invalid/EXPECTED lists each hostile file with the error libtcodec must report
(TCODEC_E_* name and byte offset), located by this writer, which knows where
it put the flaw.
"""
import json
import os
import struct
import sys

import numpy as np

# Element sizes of the safetensors dtypes with a libtcodec equivalent.
SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2,
         "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8}
# Element sizes in bits of the others (safetensors 0.6 Dtype::bitsize), which
# libtcodec carries as opaque bytes.
OPAQUE_BITS = {"F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "F8_E8M0": 8, "C64": 64}
# Order of the reference writer: dtypes from widest (U64) down, then names.
RANK = ["BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0",
        "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "C64", "F64", "I64", "U64"]


def values(n, scale=1.0):
    """n exactly representable float values, some negative, from integers only."""
    i = np.arange(n, dtype=np.int64)
    return (((i * 37 + 11) % 101) - 50).astype(np.float64) * scale / 8.0


def tensor(dtype, shape):
    """Raw little-endian bytes of a tensor of the given safetensors dtype."""
    n = int(np.prod(shape, dtype=np.int64)) if shape else 1
    i = np.arange(n, dtype=np.int64)
    if dtype == "C64":  # complex64: float32 real, float32 imaginary
        return (values(n) + 1j * values(n, -0.5)).astype("<c8").tobytes()
    if dtype in OPAQUE_BITS:  # packed codes: any bit pattern, whole bytes only
        nbits = n * OPAQUE_BITS[dtype]
        assert nbits % 8 == 0, "%s x %d does not fill whole bytes" % (dtype, n)
        k = np.arange(nbits // 8, dtype=np.int64)
        return ((k * 53 + 17 + OPAQUE_BITS[dtype]) % 256).astype("<u1").tobytes()
    if dtype == "BOOL":
        return (i % 3 == 0).astype(np.bool_).tobytes()
    if dtype in ("F8_E4M3", "F8_E5M2"):  # every bit pattern, NaNs included
        return ((i * 7 + (3 if dtype == "F8_E5M2" else 0)) % 256).astype("<u1").tobytes()
    if dtype == "BF16":  # the top half of float32 values that bf16 holds exactly
        return (values(n).astype("<f4").view("<u4") >> 16).astype("<u2").tobytes()
    if dtype in ("F16", "F32", "F64"):
        np_t = {"F16": "<f2", "F32": "<f4", "F64": "<f8"}[dtype]
        v = values(n).astype(np_t)
        if n >= 4:  # specials: -0, inf, -inf, a NaN with a payload
            bits = v.view({"<f2": "<u2", "<f4": "<u4", "<f8": "<u8"}[np_t])
            w = 8 * np.dtype(np_t).itemsize
            mant = {16: 10, 32: 23, 64: 52}[w]
            sign, inf = 1 << (w - 1), ((1 << (w - 1 - mant)) - 1) << mant
            bits[0], bits[1], bits[2], bits[3] = sign, inf, inf | sign, inf | 5
        return v.tobytes()
    np_t = {"U8": "<u1", "I8": "<i1", "I16": "<i2", "U16": "<u2", "I32": "<i4",
            "U32": "<u4", "I64": "<i8", "U64": "<u8"}[dtype]
    # A multiplicative hash in wrapping uint64 arithmetic, cut to the width.
    v = i.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(12345)
    v = v >> np.uint64(64 - 8 * np.dtype(np_t).itemsize)
    return v.astype(np_t.replace("i", "u")).view(np_t).tobytes()


def header_json(entries, metadata=None, separators=(",", ":")):
    """JSON text of a header; entries: list of (name, dtype, shape, begin, end) in key order."""
    h = {}
    if metadata is not None:
        h["__metadata__"] = metadata
    for name, dtype, shape, begin, end in entries:
        h[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [begin, end]}
    return json.dumps(h, separators=separators, ensure_ascii=False).encode("utf-8")


def pack(js, data, extra_pad=0, length=None):
    """8-byte length + JSON padded with spaces to a multiple of 8 (+ extra) + data."""
    js = js + b" " * ((-len(js)) % 8 + extra_pad)
    n = len(js) if length is None else length
    return struct.pack("<Q", n) + js + data


def build(tensors, metadata=None, key_order=None, separators=(",", ":"), extra_pad=0):
    """A valid file; tensors: list of (name, dtype, shape) in data order."""
    entries, blobs, off = {}, [], 0
    for name, dtype, shape in tensors:
        raw = tensor(dtype, shape)
        entries[name] = (name, dtype, shape, off, off + len(raw))
        blobs.append(raw)
        off += len(raw)
    order = key_order or [t[0] for t in tensors]
    js = header_json([entries[k] for k in order], metadata, separators)
    return pack(js, b"".join(blobs), extra_pad)


def reference_order(tensors):
    return sorted(tensors, key=lambda t: (-RANK.index(t[1]), t[0].encode("utf-8")))


# ---- valid files ------------------------------------------------------------------------------

def valid_files():
    every = [("t." + d.lower(), d, (3, 5)) for d in SIZES]
    every.append(("t.f32.big", "F32", (4, 4, 8)))
    out = {
        "all_dtypes.safetensors": build(every),
        "metadata.safetensors": build(
            [("weight", "F32", (2, 3)), ("bias", "F16", (3,))],
            metadata={"format": "pt", "note": "line one\nline \"two\"\ttab \u00e9\u4e2d",
                      "empty": ""}),
        "empty_and_scalar.safetensors": build(
            [("scalar", "F64", ()), ("empty", "F32", (0,)), ("empty3d", "I8", (3, 0, 2)),
             ("one", "U8", (1,))]),
        "no_tensors.safetensors": build([]),
        # Python's default separators, keys not in data order, extra padding.
        "python_style.safetensors": build(
            [("a", "I32", (2, 2)), ("b", "BF16", (5,)), ("c", "BOOL", (7,))],
            metadata={"format": "np"}, key_order=["c", "a", "b"],
            separators=(", ", ": "), extra_pad=16),
    }
    # The reference writer's exact layout: tcf_safetensors_write must rebuild it
    # from the tensors and metadata alone.
    canon = reference_order([("w.\"quoted\"\tname\u00e9", "F32", (2, 2)), ("b", "F16", (3,)),
                             ("a", "F16", (2,)), ("ids", "I64", (3,)), ("mask", "BOOL", (5,)),
                             ("z", "U8", (0,)), ("s", "F64", ())])
    out["canonical.safetensors"] = build(canon, metadata={"format": "pt", "k\u00e9y": "v\n"})
    # The dtypes without a libtcodec equivalent, in the reference layout (BOOL
    # ranks below F4 in the reference's Dtype enum, so it goes last): F4 x 6 and
    # F6_E2M3 x 4 are 24 bits, F6_E3M2 x 8 48 bits, an empty F4, a C64 scalar.
    opaque = reference_order([("q.f4", "F4", (2, 3)), ("q.f6_e2m3", "F6_E2M3", (4,)),
                              ("q.f6_e3m2", "F6_E3M2", (2, 4)), ("q.scales", "F8_E8M0", (5,)),
                              ("z.c64", "C64", (3,)), ("c.scalar", "C64", ()),
                              ("e.f4", "F4", (0,)), ("mask", "BOOL", (3,)), ("u", "U8", (2,)),
                              ("w", "F32", (2,))])
    out["opaque_dtypes.safetensors"] = build(opaque, metadata={"format": "mx"})
    return out


def sharded_files():
    shard1 = [("model.embed.weight", "F32", (4, 3)), ("model.layers.0.bias", "F16", (3,))]
    shard2 = [("lm_head.weight", "BF16", (3, 4)), ("model.layers.1.bias", "F16", (3,)),
              ("model.norm", "F32", ())]
    names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    files, weight_map, total = {}, {}, 0
    for fname, ts in zip(names, (shard1, shard2)):
        files[fname] = build(ts, metadata={"format": "pt"})
        for name, dtype, shape in ts:
            weight_map[name] = fname
            total += len(tensor(dtype, shape))
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    files["model.safetensors.index.json"] = (
        json.dumps(index, indent=2, sort_keys=True) + "\n").encode("utf-8")
    return files


# ---- hostile files ----------------------------------------------------------------------------

def hostile_files():
    """name -> (bytes, TCODEC_E_* name, offset, why)."""
    a = ("a", "F32", (2, 2), 0, 16)
    b = ("b", "I16", (3,), 16, 22)
    data = tensor("F32", (2, 2)) + tensor("I16", (3,))
    good = pack(header_json([a, b]), data)
    n_good = struct.unpack("<Q", good[:8])[0]
    out = {}

    def add(name, raw, code, off, why):
        out[name] = (raw, code, off, why)

    def keyed(entries, key, metadata=None, data=data, extra=b""):
        """File with `entries`; offset of key `key` (its opening quote) in it."""
        js = header_json(entries, metadata) + extra
        raw = pack(js, data)
        return raw, 8 + js.index(b'"' + key.encode() + b'"')

    def at_data(js_len, off):
        return 8 + js_len + off

    add("truncated_length.safetensors", good[:5], "TRUNCATED", 5, "file shorter than 8 bytes")
    cut = 8 + n_good // 2
    add("truncated_header.safetensors", good[:cut], "TRUNCATED", cut, "file ends inside the header")
    add("truncated_data.safetensors", good[:-3], "TRUNCATED", len(good) - 3,
        "file ends inside the last tensor")
    raw = struct.pack("<Q", 4096) + good[8:100]
    add("header_length_past_eof.safetensors", raw, "TRUNCATED", len(raw),
        "header length larger than the file")
    add("header_too_large.safetensors", struct.pack("<Q", 100000001) + good[8:], "LIMIT", 0,
        "header length over 100,000,000 bytes")
    add("header_length_huge.safetensors", struct.pack("<Q", 2**64 - 1) + good[8:], "LIMIT", 0,
        "header length 2^64-1")
    js = b'{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},}'
    add("header_not_json.safetensors", pack(js, data[:16]), "PAYLOAD",
        8 + js.index(b",}") + 2, "trailing comma (jansson stops just past the '}')")
    js = b'[{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}]'
    add("header_not_object.safetensors", pack(js, data[:16]), "PAYLOAD", 8, "header is an array")
    js = b' ' + header_json([a, b])
    add("header_leading_space.safetensors", pack(js, data), "PAYLOAD", 8,
        "header starts with a space, not '{'")
    js = header_json([a, b]).replace(b'"b"', b'"\xff"')
    add("header_not_utf8.safetensors", pack(js, data), "PAYLOAD", 8 + js.index(b"\xff"),
        "a name with byte 0xff")
    js = header_json([a]) [:-1] + b',"a":{"dtype":"I16","shape":[3],"data_offsets":[16,22]}}'
    add("duplicate_keys.safetensors", pack(js, data), "PAYLOAD",
        8 + js.rindex(b'"a"') + 3, "key 'a' twice (jansson stops past the repeated key)")
    raw, _ = keyed([a, ("b", "I16", (3,), 8, 14)], "b", data=data[:16])
    js_len = struct.unpack("<Q", raw[:8])[0]
    add("overlap.safetensors", raw, "PAYLOAD", at_data(js_len, 8), "b [8,14) inside a [0,16)")
    raw, _ = keyed([a, ("b", "I16", (3,), 20, 26)], "b", data=data[:16] + b"\0" * 4 + data[16:])
    js_len = struct.unpack("<Q", raw[:8])[0]
    add("hole.safetensors", raw, "PAYLOAD", at_data(js_len, 16), "bytes [16,20) in no tensor")
    raw, _ = keyed([a, ("b", "F32", (1000000,), 16, 4000016)], "b")
    add("offsets_past_eof.safetensors", raw, "TRUNCATED", len(raw),
        "b claims 4 MB past the end of a 22-byte data area")
    raw, off = keyed([a, ("b", "I16", (3,), 22, 16)], "b")
    add("begin_after_end.safetensors", raw, "PAYLOAD", off, "data_offsets [22, 16]")
    raw, _ = keyed([a, ("b", "I16", (4,), 16, 22)], "b")
    js_len = struct.unpack("<Q", raw[:8])[0]
    add("shape_mismatch.safetensors", raw, "PAYLOAD", at_data(js_len, 16),
        "4 x I16 = 8 bytes, span 6")
    raw, off = keyed([a, ("b", "I16", (2**32, 2**32, 2), 16, 22)], "b")
    add("huge_dims.safetensors", raw, "OVERFLOW", off, "2^32 x 2^32 x 2 elements")
    raw, off = keyed([a, ("b", "F32", (2**62,), 16, 22)], "b")
    add("huge_bytes.safetensors", raw, "OVERFLOW", off, "2^62 elements x 4 bytes")
    raw, off = keyed([a, ("b", "Q7", (3,), 16, 22)], "b")
    add("unknown_dtype.safetensors", raw, "UNSUPPORTED_DTYPE", off, "dtype Q7")
    raw, off = keyed([a, ("b", "F7", (6,), 16, 22)], "b")
    add("unknown_dtype_f7.safetensors", raw, "UNSUPPORTED_DTYPE", off,
        "dtype F7 (no such safetensors dtype)")
    raw, _ = keyed([a, ("b", "F4", (3,), 16, 18)], "b", data=data[:18])
    js_len = struct.unpack("<Q", raw[:8])[0]
    add("f4_odd_elements.safetensors", raw, "PAYLOAD", at_data(js_len, 16),
        "3 x F4 = 12 bits, not whole bytes")
    raw, _ = keyed([a, ("b", "F4", (4,), 16, 19)], "b", data=data[:19])
    js_len = struct.unpack("<Q", raw[:8])[0]
    add("f4_span_mismatch.safetensors", raw, "PAYLOAD", at_data(js_len, 16),
        "4 x F4 = 2 bytes, span 3")
    raw, off = keyed([a, b], "n", metadata={"format": "pt", "n": 3})
    add("metadata_not_string.safetensors", raw, "PAYLOAD", off, "__metadata__ value 3")
    add("trailing_bytes.safetensors", good + b"\0\0\0\0", "PAYLOAD",
        at_data(n_good, 22), "4 bytes after the last tensor")
    raw, off = keyed([a, ("b", "I16", (3,), -1, 22)], "b")
    add("negative_offset.safetensors", raw, "PAYLOAD", off, "data_offsets [-1, 22]")
    raw, off = keyed([a, ("b", "I16", (1,) * 30 + (3, 1, 1), 16, 22)], "b")
    add("too_many_dims.safetensors", raw, "LIMIT", off, "33 dimensions")
    js = header_json([a, b]).replace(b'[3]', b'[3.0]')
    add("float_dim.safetensors", pack(js, data), "PAYLOAD", 8 + js.index(b'"b"'),
        "dimension 3.0")

    index = {"metadata": {"total_size": 22}, "weight_map": {"a": "model-1.safetensors",
                                                            "b": "../model-2.safetensors"}}
    js = json.dumps(index, indent=2).encode()
    add("index_dotdot.json", js, "PAYLOAD", js.index(b'"b"'), "shard '../model-2.safetensors'")
    index["weight_map"]["b"] = "/etc/model-2.safetensors"
    js = json.dumps(index, indent=2).encode()
    add("index_absolute.json", js, "PAYLOAD", js.index(b'"b"'), "shard '/etc/...'")
    index["weight_map"]["b"] = "sub\\..\\x.safetensors"
    js = json.dumps(index, indent=2).encode()
    add("index_backslash.json", js, "PAYLOAD", js.index(b'"b"'), "shard with backslashes")
    js = b'{"metadata": {}, "weight_map": {"a": "m.safetensors", "b": 7}}\n'
    add("index_not_string.json", js, "PAYLOAD", js.index(b'"b"'), "shard file is a number")
    return out


def write(path, raw):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(raw)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "tests", "fixtures",
                                                                "safetensors")
    for name, raw in valid_files().items():
        write(os.path.join(out, "valid", name), raw)
    for name, raw in sharded_files().items():
        write(os.path.join(out, "sharded", name), raw)
    lines = ["# file  TCODEC_E_*  offset  why (written by make-safetensors-fixtures.py)"]
    for name, (raw, code, off, why) in sorted(hostile_files().items()):
        write(os.path.join(out, "invalid", name), raw)
        lines.append("%s %s %d %s" % (name, code, off, why))
    write(os.path.join(out, "invalid", "EXPECTED"), ("\n".join(lines) + "\n").encode())


if __name__ == "__main__":
    main()

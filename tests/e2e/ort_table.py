#!/usr/bin/env python3
"""Tables of scripts/rd-ort.sh: reads its rows.tsv (model, config, tcpack args, status, file
prefix, source model), the tcpack --json report PREFIX.pack.json and the run_ort.mjs report
PREFIX.ort.json of each row, prints one Markdown table per model and writes SUMMARY.md and
SUMMARY.json.

    python3 ort_table.py ROWS.tsv SUMMARY.md SUMMARY.json
"""
import json
import math
import os
import sys


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def row_of(model, config, args, status, prefix, src):
    r = {"model": model, "config": config, "tcpack_args": args, "status": status}
    pack = load(prefix + ".pack.json")
    if pack:
        s = pack["summary"]
        q = [t for t in pack["tensors"] if t.get("quantized")]
        qn = sum(t["nelem"] for t in q)
        r["onnx_bytes"] = os.path.getsize(src)
        r["tc_bytes"] = os.path.getsize(prefix + ".tc") if os.path.exists(prefix + ".tc") else None
        r["size_ratio"] = r["tc_bytes"] / r["onnx_bytes"] if r["tc_bytes"] else None
        r["quantized_tensors"] = len(q)
        r["quantized_weights"] = qn
        r["bits_per_weight"] = (sum(t["stored_bytes"] for t in q) * 8 / qn) if qn else None
        sq = [t["sqnr_db"] for t in q if t.get("sqnr_db") is not None]
        r["worst_sqnr_db"] = min(sq) if sq else None
        r["worst_rel_l2_tensor"] = s.get("worst_rel_l2")
    ort = load(prefix + ".ort.json")
    if ort:
        o = ort["outputs"][0]
        r["all_identical"] = ort.get("all_identical")
        r["all_finite"] = ort.get("all_finite")
        r["control_identical"] = ort.get("control", {}).get("a_run_twice_identical")
        r["output"] = o["name"]
        r["rel_l2"] = o.get("rel_l2")
        r["cosine"] = o.get("cosine")
        r["max_abs_diff"] = o.get("max_abs_diff")
        for k in ("mask_iou", "mask_agreement", "argmax_agree", "argmax_a", "argmax_b",
                  "top_a", "top_b", "step_argmax_agreement", "ctc_agree", "text_a", "text_b"):
            if k in o:
                r[k] = o[k]
    return r


def f(x, fmt):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, float) and math.isinf(x):
        return "∞"
    return format(x, fmt)


def task(r):
    if r["status"] != "ok":
        return r["status"]
    if "mask_iou" in r:
        return f"mask IoU {r['mask_iou']:.3f}"
    if "ctc_agree" in r:
        same = "same text" if r["ctc_agree"] else "text differs"
        tb = r.get("text_b")
        extra = f" (“{tb[:24]}”)" if (tb is not None and not r["ctc_agree"]) else ""
        return f"{same}, steps {r.get('step_argmax_agreement', 0):.3f}{extra}"
    if "argmax_agree" in r:
        return ("class agrees" if r["argmax_agree"] else "class differs") + \
            f" (p={r.get('top_b', float('nan')):.3f})"
    return "–"


def table(rows):
    out = ["| config | .tc/onnx | bits/w (quantized) | worst SQNR dB | out rel L2 | out cosine | task |",
           "|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        rel = r.get("rel_l2")
        rel_s = "0 (identical)" if r.get("all_identical") else f(rel, ".3g")
        out.append("| {} | {} | {} | {} | {} | {} | {} |".format(
            r["config"], f(r.get("size_ratio"), ".3f"), f(r.get("bits_per_weight"), ".2f"),
            f(r.get("worst_sqnr_db"), ".1f"), rel_s, f(r.get("cosine"), ".4f"), task(r)))
    return "\n".join(out)


def main():
    if len(sys.argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    rows = []
    with open(sys.argv[1], encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 6:
                rows.append(row_of(*parts))
    md = []
    for m in dict.fromkeys(r["model"] for r in rows):
        mr = [r for r in rows if r["model"] == m]
        ex = next((r for r in mr if r.get("quantized_weights")), None)
        head = f"### {m}"
        if ex:
            head += (f" ({ex['onnx_bytes'] / 1e6:.2f} MB ONNX; {ex['quantized_tensors']} Conv/MatMul/Gemm"
                     f" tensors, {ex['quantized_weights']:,} weights quantized)")
        md += [head, "", table(mr), ""]
        ref = next((r for r in mr if r["config"] == "lossless"), None)
        if ref and ref.get("text_a") is not None:
            md += [f"Reference text (original model): “{ref['text_a']}”", ""]
        if ref and ref.get("argmax_a") is not None:
            md += [f"Reference class (original model): {ref['argmax_a']} (p={ref.get('top_a', 0):.3f})", ""]
    text = "\n".join(md)
    print(text)
    with open(sys.argv[2], "w", encoding="utf-8") as fh:
        fh.write(text)
    with open(sys.argv[3], "w", encoding="utf-8") as fh:
        json.dump(rows, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

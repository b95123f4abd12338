#!/usr/bin/python3
"""Summary of a scripts/e2e-ocr.sh run: reads its work folder and prints two tables (lossless,
ternary) and the closing line "e2e: N passed, M failed". Exit status 1 if a check failed.

usage: /usr/bin/python3 summary.py WORK_DIR MODEL...      (MODEL: det, rec, cls)
       /usr/bin/python3 summary.py --brief FILE.json     (one line about one check's result)

Files read in WORK_DIR (written by e2e-ocr.sh): status.tsv (model, step, exit status, detail),
NAME.time (/usr/bin/time -v), M.check.json / M.twn-check.json (onnx_check.py), M.ort.json /
M.twn-ort.json (run_ort.mjs), M.twn-vs-ref.json (onnx_check.py --lossy against perturb.py twn).

Checks, per model: lossless pack, unpack, cmp (byte-identical), onnx_check (checker + same graph +
bit-identical tensors), ort (outputs bitwise identical, and the original's outputs reproducible);
ternary pack, unpack, onnx_check (checker + same graph, tensors may differ), ort (runs, outputs
finite). The ternary agreement figures are reported only.
"""

import json
import os
import re
import sys

def load_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read().strip()
        return json.loads(text.splitlines()[-1]) if text else None
    except (OSError, ValueError, IndexError):
        return None


def time_of(work, name):
    """(wall seconds, max RSS MiB) from a /usr/bin/time -v file, or (None, None)."""
    try:
        with open(os.path.join(work, name + ".time"), encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return None, None
    wall = rss = None
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text)
    if m:
        secs = 0.0
        for part in m.group(1).split(":"):
            secs = secs * 60 + float(part)
        wall = secs
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    if m:
        rss = int(m.group(1)) / 1024
    return wall, rss


def fmt(x, spec):
    return "-" if x is None else format(x, spec)


def table(header, rows):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).rjust(w) if i else str(c).ljust(w)
                               for i, (c, w) in enumerate(zip(r, widths)))
    print(line(header))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r))


def brief(path):
    """One line about an onnx_check.py or run_ort.mjs JSON file (used in the run's log)."""
    j = load_json(path)
    if j is None:
        print(f"    {os.path.basename(path)}: no result")
    elif "error" in j and isinstance(j["error"], dict):
        print(f"    onnxruntime: {j['error'].get('step')} failed: {j['error'].get('message')}")
    elif "outputs" in j:
        parts = []
        for o in j["outputs"]:
            if o.get("identical"):
                parts.append(f"{o['name']} bitwise identical")
            else:
                parts.append(f"{o['name']} {o.get('elements_differing', '?')}/{o.get('count')} differ, "
                             f"max abs {o.get('max_abs_diff')}, rel L2 {o.get('rel_l2')}, "
                             f"cosine {o.get('cosine')}, finite {o.get('finite_b')}")
        ctl = "" if j.get("control", {}).get("a_run_twice_identical") else " (original NOT reproducible)"
        print(f"    onnxruntime {j.get('onnxruntime')} input {j['inputs'][0]['shape'] if j.get('inputs') else '?'}: "
              + "; ".join(parts) + ctl)
    elif "models" in j:
        checks = ", ".join(f"{m.get('checker')}/{m.get('full_check')}" for m in j["models"])
        line = f"    onnx_check (checker/full_check {checks})"
        c = j.get("compare")
        if c:
            line += (f": structure {'identical' if c['structure_identical'] else 'DIFFERS'}, "
                     f"{c['tensors_bit_identical']}/{c['tensors']} tensors bit-identical")
            if c["storage_differences"]:
                line += f", {c['storage_differences']} stored differently"
            if c.get("worst_rel_l2"):
                line += f", worst tensor rel L2 {c['worst_rel_l2']:.3g}"
        print(line + (": pass" if j.get("pass") else ": FAIL: " + "; ".join(j.get("failures", []))))
        for d in (c or {}).get("structural_diff_list", [])[:5]:
            print(f"      {d['path']}: {d['a']!r} vs {d['b']!r}")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--brief":
        brief(sys.argv[2])
        return 0
    if len(sys.argv) < 3:
        sys.stderr.write("usage: summary.py WORK_DIR MODEL...\n")
        return 2
    work, models = sys.argv[1], sys.argv[2:]
    status = {}
    try:
        with open(os.path.join(work, "status.tsv"), encoding="utf-8") as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) >= 3:
                    status[(parts[0], parts[1])] = (int(parts[2]), parts[3] if len(parts) > 3 else "")
    except OSError:
        pass

    passed = failed = 0
    failures = []

    def check(model, name, ok):
        nonlocal passed, failed
        if ok:
            passed += 1
        else:
            failed += 1
            failures.append(f"{model} {name}")
        return "ok" if ok else "FAIL"

    def st(model, step):
        return status.get((model, step))

    lossless_rows, twn_rows, agree_rows = [], [], []
    for m in models:
        # ------------------------------------------------------------------------- lossless
        pack = st(m, "pack")
        size_in = None
        chk = load_json(os.path.join(work, f"{m}.check.json"))
        if chk and chk.get("models"):
            size_in = chk["models"][0].get("size")
        tc = int(pack[1]) if pack and pack[0] == 0 and pack[1].isdigit() else None
        pw, pr = time_of(work, f"{m}.pack")
        uw, ur = time_of(work, f"{m}.unpack")
        r_pack = check(m, "lossless pack", pack is not None and pack[0] == 0)
        unpack = st(m, "unpack")
        r_unpack = check(m, "lossless unpack", unpack is not None and unpack[0] == 0)
        c = st(m, "cmp")
        r_cmp = check(m, "lossless cmp", c is not None and c[0] == 0)
        oc = st(m, "onnx_check")
        r_chk = check(m, "lossless onnx_check", oc is not None and oc[0] == 0 and bool(chk and chk.get("pass")))
        ort = load_json(os.path.join(work, f"{m}.ort.json"))
        o = st(m, "ort")
        ort_ok = (o is not None and o[0] == 0 and bool(ort) and ort.get("all_identical") is True
                  and ort.get("control", {}).get("a_run_twice_identical") is True)
        r_ort = check(m, "lossless onnxruntime identical", ort_ok)
        if tc is None:
            tc_s = "-"
        else:
            tc_s = str(tc)
        ratio = f"{tc / size_in:.3f}" if tc and size_in else "-"
        lossless_rows.append([m, size_in or "-", tc_s, ratio, fmt(pw, ".2f"), fmt(pr, ".0f"),
                              fmt(uw, ".2f"), fmt(ur, ".0f"), r_pack + "/" + r_unpack, r_cmp, r_chk, r_ort])

        # -------------------------------------------------------------------------- ternary
        tp = st(m, "twn-pack")
        if tp is None and st(m, "pack") is None:
            continue
        ttc = int(tp[1]) if tp and tp[0] == 0 and tp[1].isdigit() else None
        tpw, tpr = time_of(work, f"{m}.twn-pack")
        tuw, tur = time_of(work, f"{m}.twn-unpack")
        r_tp = check(m, "ternary pack", tp is not None and tp[0] == 0)
        tu = st(m, "twn-unpack")
        r_tu = check(m, "ternary unpack", tu is not None and tu[0] == 0)
        tchk = load_json(os.path.join(work, f"{m}.twn-check.json"))
        toc = st(m, "twn-onnx_check")
        r_tchk = check(m, "ternary onnx_check", toc is not None and toc[0] == 0 and bool(tchk and tchk.get("pass")))
        tort = load_json(os.path.join(work, f"{m}.twn-ort.json"))
        to = st(m, "twn-ort")
        r_tort = check(m, "ternary onnxruntime runs, finite",
                       to is not None and to[0] == 0 and bool(tort) and tort.get("all_finite") is True
                       and "error" not in tort)
        tensors = "-"
        if tchk and "compare" in tchk:
            tensors = f"{tchk['compare']['tensors_differing']}/{tchk['compare']['tensors']}"
        ref = load_json(os.path.join(work, f"{m}.twn-vs-ref.json"))
        ref_s = "-"
        if ref and "compare" in ref:
            cmpr = ref["compare"]
            ref_s = (f"{cmpr['tensors_differing']} differ, worst {cmpr.get('worst_rel_l2', 0):.1e}"
                     if cmpr["structure_identical"] else "structure differs")
        tratio = f"{ttc / size_in:.3f}" if ttc and size_in else "-"
        twn_rows.append([m, ttc or "-", tratio, fmt(tpw, ".2f"), fmt(tpr, ".0f"), fmt(tuw, ".2f"),
                         fmt(tur, ".0f"), r_tp + "/" + r_tu, r_tchk, r_tort, tensors, ref_s])
        if tort and tort.get("outputs"):
            out = tort["outputs"][0]
            task = "-"
            if "argmax_agree" in out:
                task = (f"class {out.get('argmax_a')} vs {out.get('argmax_b')} "
                        f"({'agree' if out['argmax_agree'] else 'DIFFER'}), "
                        f"p {out.get('top_a', 0):.3f} vs {out.get('top_b', 0):.3f}")
            elif "step_argmax_agreement" in out:
                task = (f"steps agree {out['step_argmax_agreement']:.2f}, "
                        f"text {json.dumps(out.get('text_a', out.get('ctc_a')), ensure_ascii=False)} vs "
                        f"{json.dumps(out.get('text_b', out.get('ctc_b')), ensure_ascii=False)}")
            elif "mask_iou" in out:
                task = (f"mask@{out['mask_threshold']} IoU {out['mask_iou']:.3f}, "
                        f"agree {out['mask_agreement']:.3f}")
            rel = out.get("rel_l2")
            cos = out.get("cosine")
            agree_rows.append([m, out.get("name", "-"),
                               rel if isinstance(rel, str) else fmt(rel, ".4f"),
                               cos if isinstance(cos, str) else fmt(cos, ".4f"),
                               out.get("max_abs_diff") if isinstance(out.get("max_abs_diff"), str)
                               else fmt(out.get("max_abs_diff"), ".3g"), task])

    print("lossless round trip (tcpack -> tcunpack): sizes in bytes, times in s, peak RSS in MiB")
    table(["model", "onnx", ".tc", "ratio", "pack s", "MiB", "unpack s", "MiB", "tools", "cmp",
           "onnx_check", "ORT identical"], lossless_rows)
    if twn_rows:
        print()
        print("ternary round trip (TWN): tensors = quantized/all, ref = vs independent Python TWN")
        table(["model", ".tc", "ratio", "pack s", "MiB", "unpack s", "MiB", "tools", "onnx_check",
               "ORT runs+finite", "tensors", "ref"], twn_rows)
    if agree_rows:
        print()
        print("ternary vs original outputs under onnxruntime (reported, not judged)")
        table(["model", "output", "rel L2", "cosine", "max abs", "task"], agree_rows)
    print()
    for f in failures:
        print(f"FAILED: {f}")
    print(f"e2e: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

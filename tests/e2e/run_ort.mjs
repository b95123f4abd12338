#!/usr/bin/env node
// Runs two ONNX models with onnxruntime-node (CPU) on the same deterministic input and prints, as
// JSON on stdout, how their outputs agree. Used by scripts/e2e-ocr.sh to compare an original model
// with the same model after tcpack + tcunpack.
//
//   node run_ort.mjs MODEL_A.onnx MODEL_B.onnx [options]
//
//   --seed N            seed of the synthetic input (default 1)
//   --shape NAME=D,D..  fix the shape of input NAME (repeatable); otherwise dynamic dims are chosen
//                       per model kind (see below)
//   --threads N         intra-op threads of both sessions (default 1: the most reproducible)
//   --keys FILE         character list of the recogniser (ppocr_keys_v1.txt): CTC-decode [N,T,C]
//                       outputs to text
//   --mask-threshold X  threshold of the detector's probability map agreement (default 0.3,
//                       PaddleOCR's det_db_thresh)
//   --save-input FILE   also write the first image input as a greyscale PGM (to look at it)
//   --compact           one-line JSON
//   -h, --help
//
// Input: for each graph input of MODEL_A, one tensor from its declared type and shape. A float
// input shaped [N,3,H,W] gets a synthetic document image: light paper with seeded noise and lines
// of dark text drawn with a built-in 5x7 bitmap font (deterministic, no image file needed),
// normalised as PaddleOCR does (detector: ImageNet mean/std; recogniser and classifier:
// (x/255-0.5)/0.5). Dynamic dims: batch 1; [N,3,?,?] with a [N,C] output (direction classifier)
// 48x192; [N,3,48,?] (recogniser) width 320; other [N,3,?,?] (detector) 320x320; anything else 1.
// Other inputs get seeded uniform values (floats in [-1,1), integers in [0,8), booleans).
//
// Output, per output name: dtype, shapes, count, identical (bitwise), max_abs_diff, rel_l2
// (||a-b||/||a||), cosine, finite flags, and where they apply: argmax agreement for [1,C] outputs
// (classifier), per-step argmax agreement and CTC-decoded sequences for [N,T,C] outputs with
// C > 2 (recogniser), and binary mask agreement for [N,1,H,W] maps in [0,1] (detector). A
// "control" block says whether MODEL_A run twice gave bitwise identical outputs (if not,
// bitwise comparisons mean little).
//
// Exit status: 0 whenever both models loaded and ran (the caller decides thresholds), 1 if a model
// failed to load or run, 2 on a usage error.

import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function usage(msg) {
  if (msg) process.stderr.write(`run_ort.mjs: ${msg}\n`);
  process.stderr.write(
    'usage: node run_ort.mjs MODEL_A.onnx MODEL_B.onnx [--seed N] [--shape NAME=D,D,...] ' +
      '[--threads N] [--keys FILE] [--mask-threshold X] [--save-input FILE.pgm] [--compact]\n',
  );
  process.exit(2);
}

// ---------------------------------------------------------------------------------------- options
const opts = { seed: 1, shapes: {}, threads: 1, keys: null, maskThreshold: 0.3, compact: false, saveInput: null };
const models = [];
{
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '-h' || a === '--help') {
      const src = readFileSync(new URL(import.meta.url), 'utf8').split('\n');
      const end = src.findIndex((l) => l.startsWith('import'));
      process.stdout.write(src.slice(1, end).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
      process.exit(0);
    } else if (a === '--seed') {
      opts.seed = Number.parseInt(val(), 10);
      if (!Number.isFinite(opts.seed)) usage('--seed needs an integer');
    } else if (a === '--threads') {
      opts.threads = Number.parseInt(val(), 10);
      if (!(opts.threads >= 0)) usage('--threads needs an integer >= 0');
    } else if (a === '--keys') {
      opts.keys = val();
    } else if (a === '--mask-threshold') {
      opts.maskThreshold = Number.parseFloat(val());
    } else if (a === '--save-input') {
      opts.saveInput = val();
    } else if (a === '--compact') {
      opts.compact = true;
    } else if (a === '--shape') {
      const m = /^([^=]+)=(\d+(?:,\d+)*)$/.exec(val());
      if (!m) usage('--shape needs NAME=D,D,...');
      opts.shapes[m[1]] = m[2].split(',').map(Number);
    } else if (a.startsWith('-') && a !== '-') {
      usage(`unknown option ${a}`);
    } else {
      models.push(a);
    }
  }
  if (models.length !== 2) usage('need exactly two models');
}

let ort;
try {
  ort = require('onnxruntime-node');
} catch (e) {
  process.stderr.write(
    `run_ort.mjs: cannot load onnxruntime-node (${e.message.split('\n')[0]}); in tests/e2e run: ` +
      'ONNXRUNTIME_NODE_INSTALL=skip npm ci --ignore-scripts\n',
  );
  process.exit(1);
}

// ------------------------------------------------------------------------------ deterministic PRNG
function mulberry32(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// --------------------------------------------------------------------- 5x7 bitmap font (A-Z, 0-9)
// Each glyph: 7 rows of 5 bits, most significant bit on the left.
const FONT = {
  A: [0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11], B: [0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e],
  C: [0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e], D: [0x1e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1e],
  E: [0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f], F: [0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10],
  G: [0x0e, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0f], H: [0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11],
  I: [0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e], J: [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c],
  K: [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11], L: [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f],
  M: [0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11], N: [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
  O: [0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e], P: [0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10],
  Q: [0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d], R: [0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11],
  S: [0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e], T: [0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
  U: [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e], V: [0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04],
  W: [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a], X: [0x11, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x11],
  Y: [0x11, 0x11, 0x0a, 0x04, 0x04, 0x04, 0x04], Z: [0x1f, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1f],
  0: [0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e], 1: [0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e],
  2: [0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f], 3: [0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e],
  4: [0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02], 5: [0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e],
  6: [0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e], 7: [0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
  8: [0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e], 9: [0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c],
};
const WORDS = ['TCODEC', 'TERNARY', 'WEIGHTS', 'MODEL', 'ONNX', 'PACK', 'LOSSLESS', 'OCR', 'TEXT',
  'SCALE', 'SIGN', 'MASK', '2024', '1234', '42', 'ZSTD', 'CBOR', 'TENSOR'];

// Grey image H x W (values 0..255, Float64Array) of paper with text. The recogniser and classifier
// get one line filling the height; the detector several lines at seeded places and sizes.
function renderDocument(h, w, kind, rand) {
  const img = new Float64Array(h * w);
  for (let i = 0; i < img.length; i++) img[i] = 225 + 20 * rand();
  const drawText = (text, x0, y0, scale, ink) => {
    let x = x0;
    for (const ch of text) {
      const g = FONT[ch];
      if (g) {
        for (let r = 0; r < 7; r++) {
          for (let c = 0; c < 5; c++) {
            if (!((g[r] >> (4 - c)) & 1)) continue;
            for (let dy = 0; dy < scale; dy++) {
              for (let dx = 0; dx < scale; dx++) {
                const yy = y0 + r * scale + dy;
                const xx = x + c * scale + dx;
                if (yy >= 0 && yy < h && xx >= 0 && xx < w) img[yy * w + xx] = ink + 25 * rand();
              }
            }
          }
        }
      }
      x += 6 * scale;
    }
    return x;
  };
  const pick = () => WORDS[Math.floor(rand() * WORDS.length)];
  if (kind === 'det') {
    let y = 8 + Math.floor(rand() * 12);
    while (y < h - 12) {
      const scale = 2 + Math.floor(rand() * 3);
      let x = 6 + Math.floor(rand() * 30);
      while (x < w - 20) {
        const word = pick();
        if (x + word.length * 6 * scale > w) break;
        x = drawText(word, x, y, scale, 20 + 40 * rand()) + 5 * scale;
      }
      y += 7 * scale + 8 + Math.floor(rand() * 16);
    }
  } else {
    const scale = Math.max(1, Math.floor((h * 0.7) / 7));
    const y0 = Math.floor((h - 7 * scale) / 2);
    let text = pick();
    while ((text.length + 1 + 4) * 6 * scale < w * 0.9) text += ` ${pick()}`;
    drawText(text, Math.floor(scale * 2), y0, scale, 25);
  }
  return img;
}

const DTYPES = {
  float32: Float32Array, float64: Float64Array, int8: Int8Array, uint8: Uint8Array,
  int16: Int16Array, uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array,
  int64: BigInt64Array, uint64: BigUint64Array, bool: Uint8Array,
};

// Chooses the model kind from its declared inputs/outputs (only used for dynamic dims and the
// image's normalisation).
function modelKind(session) {
  const inp = session.inputMetadata?.[0];
  const out = session.outputMetadata?.[0];
  if (!inp || !inp.isTensor || inp.shape.length !== 4 || inp.shape[1] !== 3) return 'generic';
  if (out && out.isTensor && out.shape.length === 2) return 'cls';
  if (inp.shape[2] === 48 || (out && out.isTensor && out.shape.length === 3)) return 'rec';
  return 'det';
}

function resolveShape(meta, kind) {
  if (opts.shapes[meta.name]) return opts.shapes[meta.name];
  const dflt = { det: [1, 3, 320, 320], rec: [1, 3, 48, 320], cls: [1, 3, 48, 192] }[kind];
  return meta.shape.map((d, i) => {
    if (typeof d === 'number' && d >= 0) return d;
    if (dflt && meta.shape.length === 4) return dflt[i];
    return 1;
  });
}

let savedInput = false;

function makeInputs(session, kind, seed) {
  const feeds = {};
  const described = [];
  session.inputMetadata.forEach((meta, idx) => {
    if (!meta.isTensor) throw new Error(`input ${meta.name} is not a tensor; not supported`);
    const shape = resolveShape(meta, kind);
    const n = shape.reduce((a, b) => a * b, 1);
    const rand = mulberry32(seed * 1000003 + idx);
    const Ctor = DTYPES[meta.type];
    if (!Ctor) throw new Error(`input ${meta.name}: type ${meta.type} not supported`);
    const data = new Ctor(n);
    let what;
    if (meta.type === 'float32' && shape.length === 4 && shape[1] === 3 && ['det', 'rec', 'cls'].includes(kind)) {
      const [nb, , h, w] = shape;
      const mean = kind === 'det' ? [0.485, 0.456, 0.406] : [0.5, 0.5, 0.5];
      const std = kind === 'det' ? [0.229, 0.224, 0.225] : [0.5, 0.5, 0.5];
      for (let b = 0; b < nb; b++) {
        const img = renderDocument(h, w, kind, rand);
        if (b === 0 && opts.saveInput && !savedInput) {
          const pgm = Buffer.alloc(h * w);
          for (let i = 0; i < h * w; i++) pgm[i] = Math.max(0, Math.min(255, Math.round(img[i])));
          writeFileSync(opts.saveInput, Buffer.concat([Buffer.from(`P5\n${w} ${h}\n255\n`), pgm]));
          savedInput = true;
        }
        for (let c = 0; c < 3; c++) {
          const off = (b * 3 + c) * h * w;
          for (let i = 0; i < h * w; i++) data[off + i] = (img[i] / 255 - mean[c]) / std[c];
        }
      }
      what = `synthetic document image (5x7 bitmap text on noisy paper), ${kind} normalisation`;
    } else if (meta.type === 'float32' || meta.type === 'float64') {
      for (let i = 0; i < n; i++) data[i] = rand() * 2 - 1;
      what = 'uniform [-1,1)';
    } else if (meta.type === 'bool') {
      for (let i = 0; i < n; i++) data[i] = rand() < 0.5 ? 1 : 0;
      what = 'uniform booleans';
    } else if (meta.type === 'int64' || meta.type === 'uint64') {
      for (let i = 0; i < n; i++) data[i] = BigInt(Math.floor(rand() * 8));
      what = 'uniform integers [0,8)';
    } else {
      for (let i = 0; i < n; i++) data[i] = Math.floor(rand() * 8);
      what = 'uniform integers [0,8)';
    }
    feeds[meta.name] = new ort.Tensor(meta.type, data, shape);
    described.push({ name: meta.name, type: meta.type, declared_shape: meta.shape, shape, data: what });
  });
  return { feeds, described };
}

// ---------------------------------------------------------------------------------------- metrics
function bytesEqual(a, b) {
  if (a.byteLength !== b.byteLength) return false;
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

const num = (v) => (Number.isFinite(v) ? v : v === Infinity ? 'inf' : v === -Infinity ? '-inf' : 'nan');

function argmaxRow(d, off, c) {
  let best = off;
  for (let j = off + 1; j < off + c; j++) if (d[j] > d[best]) best = j;
  return best - off;
}

function compareOutput(name, ta, tb, keys) {
  const r = {
    name,
    type: ta.type,
    shape_a: ta.dims,
    shape_b: tb.dims,
    shapes_match: ta.type === tb.type && ta.dims.length === tb.dims.length && ta.dims.every((d, i) => d === tb.dims[i]),
  };
  const a = ta.data;
  const b = tb.data;
  r.count = a.length;
  r.identical = r.shapes_match && bytesEqual(a, b);
  if (!r.shapes_match || typeof a[0] === 'bigint' || typeof a === 'string' || !ArrayBuffer.isView(a)) {
    if (typeof a[0] === 'bigint' && r.shapes_match) {
      let diff = 0;
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) diff++;
      r.elements_differing = diff;
    }
    return r;
  }
  let maxAbs = 0;
  let dd = 0;
  let aa = 0;
  let bb = 0;
  let ab = 0;
  let nonfiniteA = 0;
  let nonfiniteB = 0;
  let differing = 0;
  let minA = Infinity;
  let maxA = -Infinity;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (!Number.isFinite(x)) nonfiniteA++;
    if (!Number.isFinite(y)) nonfiniteB++;
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    const d = x - y;
    if (d !== 0) differing++;
    const ad = Math.abs(d);
    if (ad > maxAbs) maxAbs = ad;
    dd += d * d;
    aa += x * x;
    bb += y * y;
    ab += x * y;
    if (x < minA) minA = x;
    if (x > maxA) maxA = x;
  }
  r.finite_a = nonfiniteA === 0;
  r.finite_b = nonfiniteB === 0;
  if (nonfiniteA) r.nonfinite_a = nonfiniteA;
  if (nonfiniteB) r.nonfinite_b = nonfiniteB;
  r.elements_differing = differing;
  r.max_abs_diff = num(maxAbs);
  r.rel_l2 = num(aa > 0 ? Math.sqrt(dd / aa) : dd === 0 ? 0 : Infinity);
  r.cosine = num(aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : aa === bb ? 1 : 0);
  r.range_a = [num(minA), num(maxA)];

  const dims = ta.dims;
  // Classifier-like: [1, C] (or [N, C]): does the argmax agree?
  if (dims.length === 2 && dims[1] >= 2) {
    const [n, c] = dims;
    const am = [];
    const bm = [];
    for (let i = 0; i < n; i++) {
      am.push(argmaxRow(a, i * c, c));
      bm.push(argmaxRow(b, i * c, c));
    }
    r.argmax_a = n === 1 ? am[0] : am;
    r.argmax_b = n === 1 ? bm[0] : bm;
    r.argmax_agree = am.every((v, i) => v === bm[i]);
    r.top_a = num(a[am[0]]);
    r.top_b = num(b[bm[0]]);
  }
  // Sequence-like: [N, T, C] with C > 2 (CTC recogniser): per-step argmax agreement and decoding.
  if (dims.length === 3 && dims[2] > 2) {
    const [n, t, c] = dims;
    let same = 0;
    const decode = (d, bIdx) => {
      const ids = [];
      let prev = -1;
      for (let s = 0; s < t; s++) {
        const k = argmaxRow(d, (bIdx * t + s) * c, c);
        if (k !== prev && k !== 0) ids.push(k);
        prev = k;
      }
      return ids;
    };
    for (let i = 0; i < n * t; i++) if (argmaxRow(a, i * c, c) === argmaxRow(b, i * c, c)) same++;
    r.step_argmax_agreement = same / (n * t);
    const da = decode(a, 0);
    const db = decode(b, 0);
    r.ctc_a = da;
    r.ctc_b = db;
    r.ctc_agree = da.length === db.length && da.every((v, i) => v === db[i]);
    if (keys) {
      const txt = (ids) => ids.map((k) => (k - 1 < keys.length ? keys[k - 1] : k === keys.length + 1 ? ' ' : '?')).join('');
      r.text_a = txt(da);
      r.text_b = txt(db);
    }
  }
  // Probability map: [N, 1, H, W] with values in [0, 1]: binary mask agreement (detector).
  if (dims.length === 4 && dims[1] === 1 && minA >= 0 && maxA <= 1) {
    const th = opts.maskThreshold;
    let agree = 0;
    let onA = 0;
    let onB = 0;
    let both = 0;
    for (let i = 0; i < a.length; i++) {
      const x = a[i] > th;
      const y = b[i] > th;
      if (x === y) agree++;
      if (x) onA++;
      if (y) onB++;
      if (x && y) both++;
    }
    r.mask_threshold = th;
    r.mask_agreement = agree / a.length;
    r.mask_on_a = onA;
    r.mask_on_b = onB;
    r.mask_iou = onA + onB - both > 0 ? both / (onA + onB - both) : 1;
  }
  return r;
}

// ------------------------------------------------------------------------------------------- main
async function main() {
  const so = { executionProviders: ['cpu'], graphOptimizationLevel: 'all', logSeverityLevel: 3 };
  if (opts.threads > 0) {
    so.intraOpNumThreads = opts.threads;
    so.interOpNumThreads = 1;
  }
  const stage = { step: 'load', model: models[0] };
  try {
    let keys = null;
    if (opts.keys) keys = readFileSync(opts.keys, 'utf8').split(/\r?\n/).filter((l, i, all) => l !== '' || i < all.length - 1);
    const t0 = performance.now();
    const sa = await ort.InferenceSession.create(models[0], so);
    const t1 = performance.now();
    stage.model = models[1];
    const sb = await ort.InferenceSession.create(models[1], so);
    const t2 = performance.now();
    const kind = modelKind(sa);
    const { feeds, described } = makeInputs(sa, kind, opts.seed);

    // The models must declare the same inputs and outputs.
    const sig = (s) => JSON.stringify([
      s.inputMetadata.map((m) => [m.name, m.type, m.shape]),
      s.outputMetadata.map((m) => [m.name, m.type, m.shape]),
    ]);
    const signatureMatch = sig(sa) === sig(sb);

    stage.step = 'run';
    stage.model = models[0];
    const t3 = performance.now();
    const oa = await sa.run(feeds);
    const t4 = performance.now();
    const oa2 = await sa.run(feeds);
    stage.model = models[1];
    const t5 = performance.now();
    const ob = await sb.run(feeds);
    const t6 = performance.now();

    const outputs = [];
    let allIdentical = true;
    let allFinite = true;
    let repeatIdentical = true;
    for (const name of sa.outputNames) {
      const ta = oa[name];
      const tb = ob[name];
      if (!tb) {
        outputs.push({ name, missing_in_b: true });
        allIdentical = false;
        continue;
      }
      const r = compareOutput(name, ta, tb, keys);
      if (!r.identical) allIdentical = false;
      if (r.finite_a === false || r.finite_b === false) allFinite = false;
      if (!bytesEqual(ta.data, oa2[name].data)) repeatIdentical = false;
      outputs.push(r);
    }
    const report = {
      model_a: models[0],
      model_b: models[1],
      kind,
      onnxruntime: ort.env?.versions?.node ?? ort.env?.versions?.common ?? null,
      execution_provider: 'cpu',
      intra_op_threads: opts.threads,
      seed: opts.seed,
      inputs: described,
      signature_match: signatureMatch,
      control: { a_run_twice_identical: repeatIdentical },
      ms: {
        load_a: +(t1 - t0).toFixed(1), load_b: +(t2 - t1).toFixed(1),
        run_a: +(t4 - t3).toFixed(1), run_b: +(t6 - t5).toFixed(1),
      },
      all_identical: allIdentical && signatureMatch,
      all_finite: allFinite,
      outputs,
    };
    process.stdout.write(`${JSON.stringify(report, null, opts.compact ? undefined : 2)}\n`);
    await sa.release?.();
    await sb.release?.();
  } catch (e) {
    const msg = String(e?.message ?? e).split('\n')[0];
    process.stderr.write(`run_ort.mjs: ${basename(stage.model)}: ${stage.step} failed: ${msg}\n`);
    process.stdout.write(`${JSON.stringify({ model_a: models[0], model_b: models[1], error: { step: stage.step, model: stage.model, message: msg } })}\n`);
    process.exit(1);
  }
}

main();

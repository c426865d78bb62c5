// scratchdl: a picture of a digit -> MNIST's 28x28 input, and an MLP's forward pass.
// A line-by-line port of scratchdl/images.py (to_mnist and the steps it calls); the tests
// run both on the same images and compare the pixels. Keep the two in step.
"use strict";

(function (global) {
  const SIZE = 28;
  const BOX = 20;
  const WORK_SIZE = 1024;
  const MIN_CONTRAST = 16.0;
  const RULE_SPAN = 0.6, RULE_THICKNESS = 0.015; // images._RULE_SPAN, images._RULE_THICKNESS
  const FINE = 4;
  const MNIST_WIDTH = 10.4;
  const FIT_SAMPLES = 64;

  class BlankImageError extends Error {
    constructor(message) {
      super(message);
      this.name = "BlankImageError";
    }
  }

  // An image is {h, w, data: Float64Array(h * w)}, row-major.
  function image(h, w, data) {
    return { h: h, w: w, data: data || new Float64Array(h * w) };
  }

  // Grey levels of RGBA pixels (already laid over white), as Pillow's convert("L").
  function grayFromRGBA(rgba, w, h) {
    const out = new Float64Array(w * h);
    for (let i = 0; i < w * h; i++) {
      const r = rgba[4 * i], g = rgba[4 * i + 1], b = rgba[4 * i + 2];
      out[i] = (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
    }
    return image(h, w, out);
  }

  function median(values) {
    // The lower median, as images._median.
    if (values.length === 0) return 0.0;
    const s = Float64Array.from(values).sort();
    return s[(s.length - 1) >> 1];
  }

  function shrink(a, limit) {
    const k = Math.ceil(Math.max(a.h, a.w) / limit);
    if (k <= 1) return a;
    const h = Math.ceil(a.h / k), w = Math.ceil(a.w / k);
    const out = image(h, w);
    for (let i = 0; i < h; i++) {
      const r1 = Math.min((i + 1) * k, a.h);
      for (let j = 0; j < w; j++) {
        const c1 = Math.min((j + 1) * k, a.w);
        let s = 0;
        for (let y = i * k; y < r1; y++) {
          for (let x = j * k; x < c1; x++) s += a.data[y * a.w + x];
        }
        out.data[i * w + j] = s / ((r1 - i * k) * (c1 - j * k));
      }
    }
    return out;
  }

  function design(h, w, y, x) {
    const yy = (y - (h - 1) / 2) / Math.max((h - 1) / 2, 1);
    const xx = (x - (w - 1) / 2) / Math.max((w - 1) / 2, 1);
    return [1, xx, yy, xx * xx, xx * yy, yy * yy];
  }

  function solve(rows, v, n) {
    // Normal equations, Gauss-Jordan with partial pivoting, as images._solve.
    const M = [];
    for (let i = 0; i < n; i++) M.push(new Float64Array(n + 1));
    for (let k = 0; k < rows.length; k++) {
      const x = rows[k];
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) M[i][j] += x[i] * x[j];
        M[i][n] += x[i] * v[k];
      }
    }
    let scale = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) scale = Math.max(scale, Math.abs(M[i][j]));
    scale = Math.max(scale, 1e-300);
    const coef = new Float64Array(n);
    const pivots = [];
    let row = 0;
    for (let col = 0; col < n; col++) {
      if (row >= n) continue;
      let p = row;
      for (let r = row + 1; r < n; r++) if (Math.abs(M[r][col]) > Math.abs(M[p][col])) p = r;
      if (Math.abs(M[p][col]) <= 1e-9 * scale) continue;
      const t = M[row]; M[row] = M[p]; M[p] = t;
      const d = M[row][col];
      for (let j = 0; j <= n; j++) M[row][j] /= d;
      for (let r = 0; r < n; r++) {
        if (r === row) continue;
        const f = M[r][col];
        for (let j = 0; j <= n; j++) M[r][j] -= f * M[row][j];
      }
      pivots.push(col);
      row++;
    }
    pivots.forEach(function (col, r) { coef[col] = M[r][n]; });
    return coef;
  }

  function background(a) {
    const h = a.h, w = a.w;
    const step = Math.max(1, Math.ceil(Math.max(h, w) / FIT_SAMPLES));
    const X = [], v = [];
    for (let y = 0; y < h; y += step) {
      for (let x = 0; x < w; x += step) {
        X.push(design(h, w, y, x));
        v.push(a.data[y * w + x]);
      }
    }
    const n = v.length;
    let coef = new Float64Array(6);
    coef[0] = median(v);
    let keep = new Array(n).fill(true);
    let sigma = 0.0;
    const schedule = [1, 3, 3, 6, 6, 6];
    for (let it = 0; it < schedule.length; it++) {
      const terms = schedule[it];
      if (terms > 1) {
        const rows = [], vals = [];
        for (let k = 0; k < n; k++) if (keep[k]) { rows.push(X[k]); vals.push(v[k]); }
        const c = solve(rows, vals, terms);
        coef = new Float64Array(6);
        for (let t = 0; t < terms; t++) coef[t] = c[t];
      }
      const r = new Float64Array(n);
      for (let k = 0; k < n; k++) {
        let f = 0;
        for (let t = 0; t < 6; t++) f += X[k][t] * coef[t];
        r[k] = v[k] - f;
      }
      const kept = [];
      for (let k = 0; k < n; k++) if (keep[k]) kept.push(r[k]);
      const center = median(kept);
      sigma = 1.4826 * median(kept.map(function (e) { return Math.abs(e - center); }));
      const bound = 2.5 * Math.max(sigma, 1.0);
      const next = new Array(n);
      let count = 0;
      for (let k = 0; k < n; k++) { next[k] = Math.abs(r[k] - center) <= bound; if (next[k]) count++; }
      if (count < 6) break;
      keep = next;
    }
    const surface = image(h, w);
    const [c0, cx, cy, cxx, cxy, cyy] = coef;
    for (let i = 0; i < h; i++) {
      const y = (i - (h - 1) / 2) / Math.max((h - 1) / 2, 1);
      for (let j = 0; j < w; j++) {
        const x = (j - (w - 1) / 2) / Math.max((w - 1) / 2, 1);
        surface.data[i * w + j] = (c0 + cy * y + cyy * y * y) + (cx + cxy * y) * x + cxx * x * x;
      }
    }
    return { surface: surface, sigma: sigma };
  }

  function box3(a) {
    const h = a.h, w = a.w, out = image(h, w);
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        let s = 0;
        for (let dy = -1; dy <= 1; dy++) {
          const y = Math.min(Math.max(i + dy, 0), h - 1);
          for (let dx = -1; dx <= 1; dx++) {
            const x = Math.min(Math.max(j + dx, 0), w - 1);
            s += a.data[y * w + x];
          }
        }
        out.data[i * w + j] = s / 9;
      }
    }
    return out;
  }

  function ink(a) {
    const bg = background(a);
    const n = a.h * a.w;
    let r = image(a.h, a.w);
    for (let i = 0; i < n; i++) r.data[i] = a.data[i] - bg.surface.data[i];
    let blurred = box3(r);
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < n; i++) { lo = Math.min(lo, blurred.data[i]); hi = Math.max(hi, blurred.data[i]); }
    if (-lo > hi) {
      for (let i = 0; i < n; i++) { r.data[i] = -r.data[i]; blurred.data[i] = -blurred.data[i]; }
      hi = -lo;
    }
    const floor = 3 * bg.sigma;
    const d = image(a.h, a.w);
    for (let i = 0; i < n; i++) d.data[i] = Math.max(r.data[i] - floor, 0);
    const peak = hi - floor;
    if (peak < MIN_CONTRAST) {
      throw new BlankImageError(
        "no digit found: the image is one flat colour or its strokes are too faint " +
        "(contrast " + Math.max(peak, 0).toFixed(0) + " of 255 above the background's noise, " +
        "at least " + MIN_CONTRAST.toFixed(0) + " needed); draw or photograph the digit darker or larger");
    }
    const core = [];
    for (let i = 0; i < n; i++) if (d.data[i] >= 0.5 * peak) core.push(d.data[i]);
    const level = Math.max(median(core), MIN_CONTRAST);
    for (let i = 0; i < n; i++) d.data[i] = Math.min(d.data[i] / level, 1.0);
    return d;
  }

  function areaMatrix(nOut, nIn) {
    // Row i: the weights of the input pixels averaged into output pixel i.
    const ratio = nIn / nOut;
    const m = [];
    for (let i = 0; i < nOut; i++) {
      const lo = i * ratio, hi = lo + ratio;
      const row = new Float64Array(nIn);
      for (let j = Math.max(0, Math.floor(lo)); j < Math.min(nIn, Math.ceil(hi)); j++) {
        row[j] = Math.max(Math.min(hi, j + 1) - Math.max(lo, j), 0) / ratio;
      }
      m.push(row);
    }
    return m;
  }

  function resample(a, nh, nw) {
    // areaMatrix(nh, a.h) @ a @ areaMatrix(nw, a.w).T
    const my = areaMatrix(nh, a.h), mx = areaMatrix(nw, a.w);
    const tmp = image(nh, a.w);
    for (let i = 0; i < nh; i++) {
      const wy = my[i];
      for (let y = 0; y < a.h; y++) {
        const f = wy[y];
        if (f === 0) continue;
        for (let x = 0; x < a.w; x++) tmp.data[i * a.w + x] += f * a.data[y * a.w + x];
      }
    }
    const out = image(nh, nw);
    for (let i = 0; i < nh; i++) {
      for (let j = 0; j < nw; j++) {
        const wx = mx[j];
        let s = 0;
        for (let x = 0; x < a.w; x++) if (wx[x] !== 0) s += tmp.data[i * a.w + x] * wx[x];
        out.data[i * nw + j] = s;
      }
    }
    return out;
  }

  function strokeWidth(v) {
    const h = v.h, w = v.w;
    const m = function (i, j) { return i >= 0 && j >= 0 && i < h && j < w && v.data[i * w + j] >= 0.5; };
    let outline = 0, total = 0;
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        total += v.data[i * w + j];
        if (m(i, j) && !(m(i - 1, j) && m(i + 1, j) && m(i, j - 1) && m(i, j + 1))) outline++;
      }
    }
    return 2 * total / Math.max(outline, 1);
  }

  function maxFilter(v, radius) {
    const h = v.h, w = v.w;
    const rows = image(h, w);
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        let m = 0;  // outside the image counts as 0
        for (let y = i - radius; y <= i + radius; y++) if (y >= 0 && y < h) m = Math.max(m, v.data[y * w + j]);
        rows.data[i * w + j] = m;
      }
    }
    const out = image(h, w);
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        let m = 0;
        for (let x = j - radius; x <= j + radius; x++) if (x >= 0 && x < w) m = Math.max(m, rows.data[i * w + x]);
        out.data[i * w + j] = m;
      }
    }
    return out;
  }

  function normaliseWidth(v) {
    const width = strokeWidth(v);
    if (width < 0.6 * MNIST_WIDTH) {
      const radius = Math.floor((0.85 * MNIST_WIDTH - width) / 2 + 0.5);
      return radius > 0 ? maxFilter(v, radius) : v;
    }
    return v;
  }

  function trimmedRange(coords, n) {
    const s = Int32Array.from(coords).sort();
    const k = Math.floor(0.005 * s.length);
    let lo = s[k], hi = s[s.length - 1 - k];
    const occupied = new Uint8Array(n);
    for (const c of coords) occupied[c] = 1;
    while (lo > 0 && occupied[lo - 1]) lo--;
    while (hi < n - 1 && occupied[hi + 1]) hi++;
    return [lo, hi];
  }

  function frame(v) {
    const mask = box3(v);
    const rows = [], cols = [];
    for (let i = 0; i < v.h; i++) {
      for (let j = 0; j < v.w; j++) {
        if (v.data[i * v.w + j] > 0 && mask.data[i * v.w + j] >= 0.2) { rows.push(i); cols.push(j); }
      }
    }
    if (rows.length === 0) {
      throw new BlankImageError("no digit found: no stroke is large enough to be ink; draw the digit larger");
    }
    const [top, bottom] = trimmedRange(rows, v.h);
    const [left, right] = trimmedRange(cols, v.w);
    const h = bottom - top + 1, w = right - left + 1;
    const crop = image(h, w);
    for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) crop.data[i * w + j] = v.data[(top + i) * v.w + left + j];
    const scale = BOX / Math.max(h, w);
    const nh = Math.max(1, Math.floor(h * scale + 0.5));
    const nw = Math.max(1, Math.floor(w * scale + 0.5));
    const fine = normaliseWidth(resample(crop, FINE * nh, FINE * nw));
    const digit = resample(fine, nh, nw);
    let total = 0, my = 0, mx = 0;
    for (let i = 0; i < nh; i++) {
      for (let j = 0; j < nw; j++) {
        const p = digit.data[i * nw + j];
        total += p; my += i * p; mx += j * p;
      }
    }
    const cy = my / total, cx = mx / total;
    const clip = function (t, hi) { return Math.min(Math.max(t, 0), hi); };
    const y0 = clip(Math.floor(SIZE / 2 - cy + 0.5 + 1e-6), SIZE - nh);
    const x0 = clip(Math.floor(SIZE / 2 - cx + 0.5 + 1e-6), SIZE - nw);
    const out = new Float64Array(SIZE * SIZE);
    for (let i = 0; i < nh; i++) {
      for (let j = 0; j < nw; j++) out[(y0 + i) * SIZE + x0 + j] = Math.min(Math.max(digit.data[i * nw + j], 0), 1);
    }
    return out;
  }

  function ruleBands(on, n, m, at) {
    // Ruled lines along the n rows (of m) that at(i, j) indexes: as images._rule_bands.
    const full = new Uint8Array(n), part = new Uint8Array(n);
    let any = false;
    for (let i = 0; i < n; i++) {
      let count = 0;
      for (let j = 0; j < m; j++) if (on[at(i, j)]) count++;
      if (count >= RULE_SPAN * m) { full[i] = 1; any = true; }
      if (count >= RULE_SPAN / 10 * m) part[i] = 1;
    }
    const bands = [];
    if (!any) return bands;
    const thin = Math.max(2, Math.floor(RULE_THICKNESS * n));
    let i = 0;
    while (i < n) {
      if (!full[i]) { i++; continue; }
      let j = i;
      while (j + 1 < n && full[j + 1]) j++;
      if (j - i + 1 <= thin) {
        let lo = i, hi = j;
        while (lo > 0 && i - lo < 2 && part[lo - 1]) lo--;
        while (hi + 1 < n && hi - j < 2 && part[hi + 1]) hi++;
        bands.push([lo, hi]);
      }
      i = j + 1;
    }
    return bands;
  }

  function widen(row) {
    // As images._widen: true also within 2 places of each true place.
    const m = row.length, out = Uint8Array.from(row);
    for (let k = 1; k <= 2; k++) {
      for (let j = 0; j < m; j++) {
        if ((j >= k && row[j - k]) || (j + k < m && row[j + k])) out[j] = 1;
      }
    }
    return out;
  }

  function unrule(a) {
    // Ruled lines of lined paper out, strokes crossing or lying on them kept: images._unrule.
    const h = a.h, w = a.w, d = a.data;
    const on = new Uint8Array(h * w), strong = new Uint8Array(h * w);
    for (let k = 0; k < h * w; k++) { on[k] = d[k] > 0 ? 1 : 0; strong[k] = d[k] >= 0.5 ? 1 : 0; }
    const rowAt = function (i, j) { return i * w + j; };
    const colAt = function (i, j) { return j * w + i; };
    const rows = ruleBands(on, h, w, rowAt), cols = ruleBands(on, w, h, colAt);
    if (rows.length === 0 && cols.length === 0) return a;
    const nearRow = new Uint8Array(h), nearCol = new Uint8Array(w);
    rows.forEach(function (b) { for (let r = Math.max(b[0] - 5, 0); r < Math.min(b[1] + 6, h); r++) nearRow[r] = 1; });
    cols.forEach(function (b) { for (let c = Math.max(b[0] - 5, 0); c < Math.min(b[1] + 6, w); c++) nearCol[c] = 1; });
    const out = image(h, w, Float64Array.from(d));
    const passes = [
      [rows, h, w, rowAt, function (i, j) { return strong[rowAt(i, j)] && !nearCol[j]; }],
      [cols, w, h, colAt, function (i, j) { return strong[colAt(i, j)] && !nearRow[j]; }],
    ];
    passes.forEach(function (pass) {
      const bands = pass[0], n = pass[1], m = pass[2], at = pass[3], ink = pass[4];
      bands.forEach(function (b) {
        const lo = b[0], hi = b[1];
        let keep = new Uint8Array(m);
        if (lo >= 3 && hi + 3 < n) {
          const above = new Uint8Array(m), below = new Uint8Array(m);
          for (let j = 0; j < m; j++) {
            above[j] = ink(lo - 3, j) && ink(lo - 2, j) ? 1 : 0;
            below[j] = ink(hi + 2, j) && ink(hi + 3, j) ? 1 : 0;
          }
          const A = widen(above), B = widen(below);
          for (let j = 0; j < m; j++) keep[j] = A[j] && B[j] ? 1 : 0;
        }
        const values = [];
        for (let r = lo; r <= hi; r++) {
          for (let j = 0; j < m; j++) { const x = out.data[at(r, j)]; if (x > 0) values.push(x); }
        }
        const bar = Math.max(2 * median(values), 0.5);
        for (let j = 0; j < m; j++) {
          let top = -Infinity;
          for (let r = lo; r <= hi; r++) top = Math.max(top, out.data[at(r, j)]);
          if (!keep[j] && !(top > bar)) for (let r = lo; r <= hi; r++) out.data[at(r, j)] = 0;
        }
      });
    });
    return out;
  }

  // gray: {h, w, data} grey levels 0..255 -> Float64Array(784) in [0, 1], white on black.
  function toMnist(gray) {
    const framed = gray.h === SIZE && gray.w === SIZE;
    const v = ink(shrink(gray, WORK_SIZE));
    return framed ? v.data : frame(unrule(v));
  }

  // -- the network --------------------------------------------------------------------------
  // model: {layers: [{type: "affine", in, out} | {type: "relu"} | {type: "sigmoid"}],
  //         weights: base64 of float32 little-endian W1 (in x out, row-major), b1, W2, ...}
  function loadModel(spec) {
    const bytes = Uint8Array.from(atob(spec.weights), function (c) { return c.charCodeAt(0); });
    const floats = new Float32Array(bytes.buffer);
    let at = 0;
    const layers = spec.layers.map(function (l) {
      if (l.type !== "affine") return { type: l.type };
      const W = floats.subarray(at, at + l.in * l.out); at += l.in * l.out;
      const b = floats.subarray(at, at + l.out); at += l.out;
      return { type: "affine", in: l.in, out: l.out, W: W, b: b };
    });
    if (at !== floats.length) throw new Error("model weights do not match its layers");
    return { name: spec.name, layers: layers };
  }

  function forward(model, x) {
    // Scores as NumPy computes them on float32 inputs; then a shifted softmax.
    let a = Float64Array.from(x, Math.fround);
    for (const l of model.layers) {
      if (l.type === "affine") {
        const y = new Float64Array(l.out);
        for (let j = 0; j < l.out; j++) y[j] = l.b[j];
        for (let i = 0; i < l.in; i++) {
          const xi = a[i];
          if (xi === 0) continue;
          const row = i * l.out;
          for (let j = 0; j < l.out; j++) y[j] += xi * l.W[row + j];
        }
        a = y;
      } else if (l.type === "relu") {
        a = a.map(function (t) { return t > 0 ? t : 0; });
      } else if (l.type === "sigmoid") {
        a = a.map(function (t) { return t >= 0 ? 1 / (1 + Math.exp(-t)) : Math.exp(t) / (1 + Math.exp(t)); });
      } else {
        throw new Error("unknown layer " + l.type);
      }
    }
    const top = Math.max.apply(null, Array.from(a));
    const e = a.map(function (t) { return Math.exp(t - top); });
    const s = e.reduce(function (p, q) { return p + q; }, 0);
    return Array.from(e, function (t) { return t / s; });
  }

  global.ScratchdlMnist = {
    SIZE: SIZE,
    BlankImageError: BlankImageError,
    grayFromRGBA: grayFromRGBA,
    toMnist: toMnist,
    loadModel: loadModel,
    forward: forward,
  };
})(window);

// scratchdl: a network's forward pass in plain JavaScript, for the page `scratchdl export-web`
// writes. The same layers as scratchdl/layers.py at test time (ch. 5-8): Affine, ReLU, sigmoid,
// Convolution (pad, stride), max Pooling (pad, stride), Dropout (the book scales by
// 1 - dropout_ratio at test time), BatchNormalization (running statistics), then a shifted
// softmax. The tests run it on the same digits as NumPy and compare the probabilities (within
// 1e-5). Keep the two in step.
//
// Speed: every buffer is allocated once, when the model is loaded. A convolution runs over the
// output positions and sums filter x input through a precomputed list of offsets into the
// zero-padded input (3x3 filters: the nine offsets written out, four filters at a time): no
// im2col matrix, no bounds checks in the inner loop.
"use strict";

(function (global) {
  // model.js holds the float32 weights (little-endian) as base64: a page opened from the disk
  // (file://) may not fetch() a .bin file beside it, but it can run a script.
  function decodeWeights(text) {
    const raw = atob(text);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    if (bytes.length % 4 !== 0) throw new Error("model weights are not float32 values");
    return new Float32Array(bytes.buffer);
  }

  // (size + 2 pad - window) // stride + 1, as scratchdl.util.conv_output_size.
  function outputSize(size, window, stride, pad) {
    const n = size + 2 * pad - window;
    if (n < 0) throw new Error("a " + window + "-wide window does not fit a " + size + "-wide input");
    return Math.floor(n / stride) + 1;
  }

  // One layer, ready to run: its shapes, weights, offsets and output buffer.
  function prepare(l, shape, take) {
    const size = shape.reduce(function (a, b) { return a * b; }, 1);
    if (l.type === "affine") {
      if (l.in !== size) throw new Error("affine layer expects " + l.in + " inputs, gets " + size);
      const W = take(l.in * l.out), b = take(l.out);
      return { run: affine, shape: [l.out], n: l.in, m: l.out, W: W, b: b,
               acc: new Float64Array(l.out), out: new Float32Array(l.out) };
    }
    if (l.type === "relu" || l.type === "sigmoid" || l.type === "dropout") {
      const run = { relu: relu, sigmoid: sigmoid, dropout: dropout }[l.type];
      const scale = l.type === "dropout" ? Math.fround(l.scale) : 1;
      return { run: run, shape: shape, scale: scale, out: new Float32Array(size) };
    }
    if (l.type === "batchnorm") {
      // Per feature for (D,) input or the book's per-pixel form; per channel for images.
      const D = l.features;
      const every = D === size ? 1 : shape.length === 3 && shape[0] === D ? shape[1] * shape[2] : 0;
      if (every === 0) throw new Error("batch norm of " + D + " features cannot take " + shape);
      return { run: batchnorm, shape: shape, every: every, mean: take(D), inv: take(D),
               gamma: take(D), beta: take(D), out: new Float32Array(size) };
    }
    if (l.type === "conv" || l.type === "pool") {
      if (shape.length !== 3) throw new Error(l.type + " layer needs images, gets " + shape);
      const C = shape[0], H = shape[1], W = shape[2], pad = l.pad, stride = l.stride;
      const FH = l.type === "conv" ? l.FH : l.ph, FW = l.type === "conv" ? l.FW : l.pw;
      if (l.type === "conv" && l.C !== C) throw new Error("conv layer expects " + l.C + " channels, gets " + C);
      const Hp = H + 2 * pad, Wp = W + 2 * pad;
      const OH = outputSize(H, FH, stride, pad), OW = outputSize(W, FW, stride, pad);
      // The padded input: borders set once (0 for a convolution, -inf for pooling, so a
      // border never wins a max), the inside copied in at every prediction.
      const xp = pad > 0 ? new Float32Array(C * Hp * Wp).fill(l.type === "conv" ? 0 : -Infinity) : null;
      const L = {
        C: C, H: H, W: W, pad: pad, stride: stride, Hp: Hp, Wp: Wp, OH: OH, OW: OW, xp: xp,
      };
      if (l.type === "conv") {
        const K = C * FH * FW;
        const offsets = new Int32Array(K); // input offset of each filter weight (c, ky, kx)
        for (let c = 0, k = 0; c < C; c++)
          for (let ky = 0; ky < FH; ky++)
            for (let kx = 0; kx < FW; kx++) offsets[k++] = c * Hp * Wp + ky * Wp + kx;
        L.run = conv; L.FN = l.FN; L.K = K; L.FH = FH; L.FW = FW; L.offsets = offsets;
        L.Wf = take(l.FN * K); L.b = take(l.FN);
        L.shape = [l.FN, OH, OW];
      } else {
        const offsets = new Int32Array(FH * FW); // offset of each window position, one channel
        for (let ky = 0, k = 0; ky < FH; ky++)
          for (let kx = 0; kx < FW; kx++) offsets[k++] = ky * Wp + kx;
        L.run = pool; L.offsets = offsets;
        L.shape = [C, OH, OW];
      }
      L.out = new Float32Array(L.shape[0] * OH * OW);
      return L;
    }
    throw new Error("unknown layer " + l.type);
  }

  function loadModel(spec) {
    const floats = decodeWeights(spec.weights);
    let at = 0;
    function take(n) {
      if (at + n > floats.length) throw new Error("model weights are shorter than its layers");
      const a = floats.subarray(at, at + n);
      at += n;
      return a;
    }
    let shape = spec.input || [784];
    const layers = spec.layers.map(function (l) {
      const L = prepare(l, shape, take);
      shape = L.shape;
      return L;
    });
    if (at !== floats.length) throw new Error("model weights do not match its layers");
    const inputSize = (spec.input || [784]).reduce(function (a, b) { return a * b; }, 1);
    return { name: spec.name, layers: layers, input: new Float32Array(inputSize) };
  }

  // -- the layers: run(L, x) writes L.out from x (a Float32Array) ------------------------------
  function affine(L, x) {
    const n = L.n, m = L.m, W = L.W, acc = L.acc;
    for (let j = 0; j < m; j++) acc[j] = L.b[j];
    for (let i = 0; i < n; i++) {
      const xi = x[i];
      if (xi === 0) continue; // ReLU outputs and blank pixels: many zeros
      const row = i * m;
      for (let j = 0; j < m; j++) acc[j] += xi * W[row + j];
    }
    L.out.set(acc);
  }

  function relu(L, x) {
    const out = L.out;
    for (let i = 0; i < x.length; i++) out[i] = x[i] > 0 ? x[i] : 0;
  }

  function sigmoid(L, x) {
    const out = L.out;
    for (let i = 0; i < x.length; i++) {
      const t = x[i];
      out[i] = t >= 0 ? 1 / (1 + Math.exp(-t)) : Math.exp(t) / (1 + Math.exp(t));
    }
  }

  function dropout(L, x) {
    const out = L.out, s = L.scale;
    for (let i = 0; i < x.length; i++) out[i] = x[i] * s;
  }

  // Test time (ch. 6.3): (x - running_mean) / sqrt(running_var + eps) * gamma + beta.
  function batchnorm(L, x) {
    const out = L.out, every = L.every, mean = L.mean, inv = L.inv, gamma = L.gamma, beta = L.beta;
    for (let i = 0; i < x.length; i++) {
      const k = every === 1 ? i : Math.floor(i / every);
      out[i] = Math.fround((x[i] - mean[k]) * inv[k]) * gamma[k] + beta[k];
    }
  }

  // The input (C, H, W) with its border: x itself when there is no padding.
  function padded(L, x) {
    if (L.xp === null) return x;
    const H = L.H, W = L.W, Wp = L.Wp, HWp = L.Hp * Wp, pad = L.pad, xp = L.xp;
    for (let c = 0; c < L.C; c++)
      for (let y = 0; y < H; y++) {
        const from = (c * H + y) * W;
        xp.set(x.subarray(from, from + W), c * HWp + (y + pad) * Wp + pad);
      }
    return xp;
  }

  function conv(L, x) {
    const xp = padded(L, x);
    if (L.FH === 3 && L.FW === 3) return conv3x3(L, xp);
    const FN = L.FN, K = L.K, OH = L.OH, OW = L.OW, Wp = L.Wp, s = L.stride;
    const Wf = L.Wf, b = L.b, off = L.offsets, out = L.out;
    let o = 0;
    for (let f = 0; f < FN; f++) {
      const wf = f * K, bias = b[f];
      for (let oy = 0; oy < OH; oy++) {
        let base = oy * s * Wp;
        for (let ox = 0; ox < OW; ox++, base += s) {
          let sum = 0;
          for (let k = 0; k < K; k++) sum += Wf[wf + k] * xp[base + off[k]];
          out[o++] = sum + bias;
        }
      }
    }
  }

  // The same sums for 3x3 filters (DeepConvNet's), written out tap by tap for each channel
  // (no offset table to read), four filters at a time so that each input value read serves
  // four sums (the rest, FN % 4 filters, one at a time). Measured in Chromium, a DeepConvNet
  // prediction takes about half the time of the loop above.
  function conv3x3(L, xp) {
    const FN = L.FN, C = L.C, OH = L.OH, OW = L.OW, Wp = L.Wp, W2 = 2 * Wp, s = L.stride;
    const HWp = L.Hp * Wp, Wf = L.Wf, b = L.b, out = L.out, K = 9 * C, plane = OH * OW;
    let f = 0;
    for (; f + 3 < FN; f += 4) {
      const wf = f * K, b0 = b[f], b1 = b[f + 1], b2 = b[f + 2], b3 = b[f + 3];
      let o = f * plane;
      for (let oy = 0; oy < OH; oy++) {
        let base = oy * s * Wp;
        for (let ox = 0; ox < OW; ox++, base += s, o++) {
          let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
          for (let c = 0, p = base, w = wf; c < C; c++, p += HWp, w += 9) {
            const x0 = xp[p], x1 = xp[p + 1], x2 = xp[p + 2];
            const x3 = xp[p + Wp], x4 = xp[p + Wp + 1], x5 = xp[p + Wp + 2];
            const x6 = xp[p + W2], x7 = xp[p + W2 + 1], x8 = xp[p + W2 + 2];
            s0 += Wf[w] * x0 + Wf[w + 1] * x1 + Wf[w + 2] * x2 + Wf[w + 3] * x3 + Wf[w + 4] * x4 +
              Wf[w + 5] * x5 + Wf[w + 6] * x6 + Wf[w + 7] * x7 + Wf[w + 8] * x8;
            let v = w + K;
            s1 += Wf[v] * x0 + Wf[v + 1] * x1 + Wf[v + 2] * x2 + Wf[v + 3] * x3 + Wf[v + 4] * x4 +
              Wf[v + 5] * x5 + Wf[v + 6] * x6 + Wf[v + 7] * x7 + Wf[v + 8] * x8;
            v += K;
            s2 += Wf[v] * x0 + Wf[v + 1] * x1 + Wf[v + 2] * x2 + Wf[v + 3] * x3 + Wf[v + 4] * x4 +
              Wf[v + 5] * x5 + Wf[v + 6] * x6 + Wf[v + 7] * x7 + Wf[v + 8] * x8;
            v += K;
            s3 += Wf[v] * x0 + Wf[v + 1] * x1 + Wf[v + 2] * x2 + Wf[v + 3] * x3 + Wf[v + 4] * x4 +
              Wf[v + 5] * x5 + Wf[v + 6] * x6 + Wf[v + 7] * x7 + Wf[v + 8] * x8;
          }
          out[o] = s0 + b0;
          out[o + plane] = s1 + b1;
          out[o + 2 * plane] = s2 + b2;
          out[o + 3 * plane] = s3 + b3;
        }
      }
    }
    for (; f < FN; f++) {
      const wf = f * K, bias = b[f];
      let o = f * plane;
      for (let oy = 0; oy < OH; oy++) {
        let base = oy * s * Wp;
        for (let ox = 0; ox < OW; ox++, base += s) {
          let sum = 0;
          for (let c = 0, p = base, w = wf; c < C; c++, p += HWp, w += 9) {
            sum += Wf[w] * xp[p] + Wf[w + 1] * xp[p + 1] + Wf[w + 2] * xp[p + 2] +
              Wf[w + 3] * xp[p + Wp] + Wf[w + 4] * xp[p + Wp + 1] + Wf[w + 5] * xp[p + Wp + 2] +
              Wf[w + 6] * xp[p + W2] + Wf[w + 7] * xp[p + W2 + 1] + Wf[w + 8] * xp[p + W2 + 2];
          }
          out[o++] = sum + bias;
        }
      }
    }
  }

  function pool(L, x) {
    const xp = padded(L, x);
    const C = L.C, OH = L.OH, OW = L.OW, Wp = L.Wp, HWp = L.Hp * Wp, s = L.stride;
    const off = L.offsets, K = off.length, out = L.out;
    let o = 0;
    for (let c = 0; c < C; c++) {
      for (let oy = 0; oy < OH; oy++) {
        let base = c * HWp + oy * s * Wp;
        for (let ox = 0; ox < OW; ox++, base += s) {
          let m = -Infinity;
          for (let k = 0; k < K; k++) {
            const v = xp[base + off[k]];
            if (v > m) m = v;
          }
          out[o++] = m;
        }
      }
    }
  }

  // Probabilities of the classes for one input (784 pixels in [0, 1], row-major).
  function forward(model, x) {
    let a = model.input;
    a.set(x); // as NumPy, the network computes on float32 values
    for (const L of model.layers) {
      L.run(L, a);
      a = L.out;
    }
    let top = -Infinity;
    for (let i = 0; i < a.length; i++) if (a[i] > top) top = a[i];
    const e = Array.from(a, function (t) { return Math.exp(t - top); });
    const sum = e.reduce(function (p, q) { return p + q; }, 0);
    return e.map(function (t) { return t / sum; });
  }

  global.ScratchdlNet = { loadModel: loadModel, forward: forward };
})(window);

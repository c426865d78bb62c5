// scratchdl's digit page: draw or upload, see the prediction, the ten probabilities and the
// 28x28 input. Served by `scratchdl serve` it asks POST /predict; exported by
// `scratchdl export-web` (window.SCRATCHDL_MODEL set by model.js) it computes in the browser.
"use strict";

(function () {
  const M = window.ScratchdlMnist;
  const local = window.SCRATCHDL_MODEL ? M.loadModel(window.SCRATCHDL_MODEL) : null;
  const pad = document.getElementById("pad");
  const ctx = pad.getContext("2d", { willReadFrequently: true });
  const seen = document.getElementById("seen");
  const status = document.getElementById("status");
  const prediction = document.getElementById("prediction");
  const confidence = document.getElementById("confidence");
  const bars = document.getElementById("bars");
  const STROKE = 18; // pixels on the 280-pixel pad: about MNIST's stroke for a full-height digit

  // -- the bar chart ----------------------------------------------------------------------
  const rows = [];
  for (let k = 0; k < 10; k++) {
    const row = document.createElement("div");
    row.className = "bar-row";
    row.innerHTML =
      '<span class="bar-label">' + k + '</span><span class="bar-track"><span class="bar"></span></span>' +
      '<span class="bar-value"></span>';
    bars.appendChild(row);
    rows.push({ bar: row.querySelector(".bar"), value: row.querySelector(".bar-value") });
  }

  function say(text, isError) {
    status.textContent = text;
    status.className = isError ? "error" : "muted";
  }

  function show(result) {
    const p = result.probabilities;
    const best = result.prediction;
    prediction.textContent = String(best);
    prediction.dataset.prediction = String(best);
    confidence.textContent = (100 * p[best]).toFixed(1) + "%";
    rows.forEach(function (r, k) {
      r.bar.style.width = (100 * p[k]).toFixed(1) + "%";
      r.bar.className = k === best ? "bar top" : "bar";
      r.value.textContent = (100 * p[k]).toFixed(1) + "%";
    });
    const img = seen.getContext("2d").createImageData(28, 28);
    const flat = [].concat.apply([], result.input);
    for (let i = 0; i < 784; i++) {
      const v = Math.round(255 * flat[i]);
      img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = v;
      img.data[4 * i + 3] = 255;
    }
    seen.getContext("2d").putImageData(img, 0, 0);
    window.scratchdl.last = result;
  }

  function reset() {
    prediction.textContent = "?";
    prediction.dataset.prediction = "";
    confidence.textContent = "";
    rows.forEach(function (r) { r.bar.style.width = "0"; r.value.textContent = ""; });
    seen.getContext("2d").clearRect(0, 0, 28, 28);
    window.scratchdl.last = null;
  }

  // -- computing an answer ------------------------------------------------------------------
  function computeLocally(gray) {
    const x = M.toMnist(gray);
    const p = local ? M.forward(local, x) : null;
    const input = [];
    for (let i = 0; i < 28; i++) input.push(Array.from(x.subarray(i * 28, i * 28 + 28)));
    let best = 0;
    for (let k = 1; k < 10; k++) if (p[k] > p[best]) best = k;
    return { prediction: best, probabilities: p, input: input };
  }

  function grayOf(source, w, h) {
    // Any drawable (image, canvas) laid over white, or over black when its opaque pixels are
    // light (white strokes on a transparent canvas), as images._backdrop does.
    const c = document.createElement("canvas");
    c.width = w; c.height = h;
    const g = c.getContext("2d", { willReadFrequently: true });
    g.drawImage(source, 0, 0, w, h);
    const d = g.getImageData(0, 0, w, h).data;
    let n = 0, sum = 0, transparent = false;
    for (let i = 0; i < w * h; i++) {
      if (d[4 * i + 3] >= 128) {
        n++;
        sum += (d[4 * i] * 19595 + d[4 * i + 1] * 38470 + d[4 * i + 2] * 7471 + 0x8000) >> 16;
      } else transparent = true;
    }
    g.globalCompositeOperation = "destination-over";
    g.fillStyle = n > 0 && transparent && sum / n > 127 ? "#000" : "#fff";
    g.fillRect(0, 0, w, h);
    return M.grayFromRGBA(g.getImageData(0, 0, w, h).data, w, h);
  }

  async function askServer(blob) {
    const response = await fetch("predict", {
      method: "POST",
      headers: { "Content-Type": blob.type || "application/octet-stream" },
      body: blob,
    });
    const answer = await response.json();
    if (!response.ok) {
      const e = new Error(answer.error || ("the server answered " + response.status));
      e.name = response.status === 422 ? "BlankImageError" : "ServerError";
      throw e;
    }
    return answer;
  }

  function decode(blob) {
    return new Promise(function (resolve, reject) {
      const url = URL.createObjectURL(blob);
      const img = new Image();
      img.onload = function () { URL.revokeObjectURL(url); resolve(img); };
      img.onerror = function () {
        URL.revokeObjectURL(url);
        const e = new Error("this file is not an image the browser can read: choose a PNG or JPEG");
        e.name = "ImageError";
        reject(e);
      };
      img.src = url;
    });
  }

  // The answer for an image file (Blob): the same steps on the server or here.
  async function classifyBlob(blob) {
    if (!local) return askServer(blob);
    const img = await decode(blob);
    return computeLocally(grayOf(img, img.naturalWidth, img.naturalHeight));
  }

  function padBlob() {
    return new Promise(function (resolve) { pad.toBlob(resolve, "image/png"); });
  }

  // -- live prediction while drawing: one computation at a time, the latest drawing next ---
  let drawn = false, busy = false, again = false;
  let version = 0, shown = 0; // drawing changes made / included in the answer shown

  async function predictPad() {
    if (!drawn) return;
    if (busy) { again = true; return; }
    busy = true;
    const asked = version;
    try {
      const result = local ? computeLocally(grayOf(pad, pad.width, pad.height)) : await askServer(await padBlob());
      if (drawn) { show(result); shown = asked; say("Keep drawing, or Clear to start again."); }
    } catch (e) {
      shown = asked;
      if (e.name === "BlankImageError") { reset(); say("Draw a larger or darker digit."); }
      else say(e.message, true);
    } finally {
      busy = false;
      if (again) { again = false; window.requestAnimationFrame(predictPad); }
    }
  }

  // -- drawing with pointer events: mouse, pen and finger alike ------------------------------
  let last = null;
  function clearPad() {
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, pad.width, pad.height);
    drawn = false;
    box = null;
    shown = version;
  }
  function point(e) {
    const r = pad.getBoundingClientRect();
    return { x: (e.clientX - r.left) * pad.width / r.width, y: (e.clientY - r.top) * pad.height / r.height };
  }
  let box = null; // the drawing's extent: no answer is asked for a mere dot
  function segment(a, b) {
    ctx.fillStyle = ctx.strokeStyle = "#000";
    ctx.lineWidth = STROKE;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    if (a.x === b.x && a.y === b.y) {
      ctx.arc(a.x, a.y, STROKE / 2, 0, 2 * Math.PI); // a zero-length line draws nothing
      ctx.fill();
    } else {
      ctx.moveTo(a.x, a.y);
      ctx.lineTo(b.x, b.y);
      ctx.stroke();
    }
    for (const p of [a, b]) {
      box = box || { x0: p.x, x1: p.x, y0: p.y, y1: p.y };
      box = { x0: Math.min(box.x0, p.x), x1: Math.max(box.x1, p.x), y0: Math.min(box.y0, p.y), y1: Math.max(box.y1, p.y) };
    }
    drawn = Math.max(box.x1 - box.x0, box.y1 - box.y0) >= STROKE;
    version++;
  }
  pad.addEventListener("pointerdown", function (e) {
    e.preventDefault();
    pad.setPointerCapture(e.pointerId);
    last = point(e);
    segment(last, last);
    predictPad();
  });
  pad.addEventListener("pointermove", function (e) {
    if (last === null) return;
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
    for (const c of (events.length ? events : [e])) {
      const p = point(c);
      segment(last, p);
      last = p;
    }
    predictPad();
  });
  function lift() { if (last !== null) { last = null; predictPad(); } }
  pad.addEventListener("pointerup", lift);
  pad.addEventListener("pointercancel", lift);

  document.getElementById("clear").addEventListener("click", function () {
    clearPad();
    reset();
    say("Draw a digit 0\u20139 with the mouse, a pen or a finger.");
  });

  // -- a photo ------------------------------------------------------------------------------
  document.getElementById("upload").addEventListener("change", async function (e) {
    const file = e.target.files[0];
    e.target.value = "";
    if (!file) return;
    say("Reading " + file.name + "\u2026");
    try {
      const img = await decode(file);
      clearPad();
      const s = Math.min(pad.width / img.naturalWidth, pad.height / img.naturalHeight);
      const w = img.naturalWidth * s, h = img.naturalHeight * s;
      ctx.drawImage(img, (pad.width - w) / 2, (pad.height - h) / 2, w, h);
      const result = await classifyBlob(file);
      show(result);
      say(file.name + ": the network reads " + result.prediction + ".");
    } catch (err) {
      reset();
      say(file.name + ": " + err.message, true);
    }
  });

  // -- start --------------------------------------------------------------------------------
  window.scratchdl = {
    last: null,
    // True once the answer shown includes every stroke drawn so far.
    settled: function () { return !busy && !again && (shown === version || !drawn); },
    // For scripts and tests: the answer for an image given as a data: URL.
    classifyURL: async function (url) { return classifyBlob(await (await fetch(url)).blob()); },
    // The 28x28 input this page computes for the same image (the exported page only).
    toMnistURL: async function (url) {
      const img = await decode(await (await fetch(url)).blob());
      return Array.from(M.toMnist(grayOf(img, img.naturalWidth, img.naturalHeight)));
    },
  };
  clearPad();
  const modelLabel = document.getElementById("model");
  if (local) {
    modelLabel.textContent = "Model: " + local.name + " (running in this page, no server)";
  } else {
    fetch("info").then(function (r) { return r.json(); }).then(function (info) {
      modelLabel.textContent = "Model: " + info.model + " (" + info.network + ")";
    }).catch(function () { modelLabel.textContent = "Model: (the server did not answer)"; });
  }
})();

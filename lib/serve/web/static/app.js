// The page of cmd/serve: send an image to /v1/explain, show its top classes as bars
// and its saliency map. No framework, no network but this server.
"use strict";

const $ = (sel) => document.querySelector(sel);
const TOP = 5;
let previewURL = null;
let maxPixels = 0; // the server's -max-pixels, from /v1/model

function pct(p) {
  return (100 * p).toFixed(p >= 0.995 || p < 0.0005 ? 0 : 1) + " %";
}

function showError(msg) {
  $("#error").textContent = msg;
  $("#error").hidden = !msg;
}

async function loadModel() {
  try {
    const res = await fetch("/v1/model");
    const m = await res.json();
    if (!res.ok) throw new Error(m.error || res.statusText);
    const s = m.shape;
    let text = `${m.checkpoint} · ${m.classes.length} classes · input ${s.channels}x${s.height}x${s.width}`;
    const last = m.history && m.history[m.history.length - 1];
    if (last && last.eval_accuracy !== undefined) {
      text += ` · accuracy ${(100 * last.eval_accuracy).toFixed(1)} %`;
      if (last.eval_set) text += ` on ${last.eval_set}`;
    }
    $("#model").textContent = text;
    maxPixels = m.max_pixels || 0;
    $("#shape").textContent = `${s.width}x${s.height}`;
    loadSamples(m.classes);
  } catch (e) {
    $("#model").textContent = "the model could not be read: " + e.message;
  }
}

// The samples are Fashion-MNIST images: offered only to a model of those classes.
async function loadSamples(classes) {
  try {
    const res = await fetch("/static/samples/samples.json");
    if (!res.ok) return;
    const list = await res.json();
    if (!list.every((s) => classes.includes(s.class))) return;
    const box = $("#sample-list");
    for (const s of list) {
      const b = document.createElement("button");
      b.type = "button";
      b.title = s.class;
      b.className = "sample";
      const img = document.createElement("img");
      img.src = "/static/samples/" + encodeURIComponent(s.file);
      img.alt = s.class;
      b.appendChild(img);
      b.addEventListener("click", async () => {
        const r = await fetch(img.src);
        classify(await r.blob(), `a test image of a ${s.class}`);
      });
      box.appendChild(b);
    }
    $("#samples").hidden = false;
  } catch (e) {
    // no samples: the page works without them
  }
}

// An image over the server's pixel limit (a phone photo) is scaled down here
// first: the model takes a few hundred pixels, and the server refuses millions.
async function fitted(file) {
  if (!maxPixels || !window.createImageBitmap) return file;
  let bmp;
  try {
    bmp = await createImageBitmap(file);
  } catch (e) {
    return file; // not an image this browser reads: the server says what is wrong
  }
  const px = bmp.width * bmp.height;
  if (px <= maxPixels) {
    bmp.close();
    return file;
  }
  const s = Math.sqrt(maxPixels / px);
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.floor(bmp.width * s));
  canvas.height = Math.max(1, Math.floor(bmp.height * s));
  canvas.getContext("2d").drawImage(bmp, 0, 0, canvas.width, canvas.height);
  bmp.close();
  return new Promise((resolve) => canvas.toBlob((b) => resolve(b || file), "image/png"));
}

async function classify(file, label) {
  showError("");
  if (!file) return;
  if (previewURL) URL.revokeObjectURL(previewURL);
  previewURL = URL.createObjectURL(file);
  const preview = $("#preview");
  // A small image is shown with its pixels, as the model's input is.
  preview.onload = () => preview.classList.toggle("pixels", preview.naturalWidth < 168);
  preview.src = previewURL;
  $("#status").textContent = `Classifying ${label || file.name || "the image"}…`;
  let body;
  try {
    const sent = await fitted(file);
    const res = await fetch(`/v1/explain?top=${TOP}`, {
      method: "POST",
      headers: { "Content-Type": sent.type || "application/octet-stream" },
      body: sent,
    });
    body = await res.json();
    if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`);
  } catch (e) {
    $("#status").textContent = "";
    $("#result").hidden = true;
    showError(e.message);
    return;
  }
  render(body, label || file.name);
}

function render(r, label) {
  const best = r.predictions[0];
  $("#top-class").textContent = best.class;
  $("#top-prob").textContent = pct(best.probability);
  $("#input").src = r.input;
  $("#saliency").src = r.saliency;
  $("#saliency-class").textContent = r.saliency_class;
  const bars = $("#bars");
  bars.replaceChildren();
  for (const p of r.predictions) {
    const li = document.createElement("li");
    li.className = "bar-row";
    const name = document.createElement("span");
    name.className = "label";
    name.textContent = p.class;
    const track = document.createElement("span");
    track.className = "track";
    const fill = document.createElement("span");
    fill.className = "fill";
    fill.style.width = Math.max(0.5, 100 * p.probability).toFixed(1) + "%";
    track.appendChild(fill);
    const value = document.createElement("span");
    value.className = "value";
    value.textContent = pct(p.probability);
    li.append(name, track, value);
    bars.appendChild(li);
  }
  $("#status").textContent = `${label ? label + ": " : ""}answered by ${r.model}`;
  $("#result").hidden = false;
}

function setup() {
  $("#curl").textContent = `curl -H 'Content-Type: image/png' --data-binary @shoe.png ${location.origin}/v1/predict`;
  const drop = $("#drop");
  $("#file").addEventListener("change", (e) => classify(e.target.files[0]));
  for (const ev of ["dragenter", "dragover"]) {
    drop.addEventListener(ev, (e) => {
      e.preventDefault();
      drop.classList.add("over");
    });
  }
  for (const ev of ["dragleave", "drop"]) {
    drop.addEventListener(ev, () => drop.classList.remove("over"));
  }
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    classify(e.dataTransfer.files[0]);
  });
  drop.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      $("#file").click();
    }
  });
  document.addEventListener("paste", (e) => {
    const item = [...e.clipboardData.items].find((i) => i.type.startsWith("image/"));
    if (item) classify(item.getAsFile(), "the pasted image");
  });
  loadModel();
}

setup();

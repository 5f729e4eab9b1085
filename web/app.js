// Shoal web page: log-Bessel plot computed by the wasm core (f64) and, where
// WebGPU exists, by the same WGSL kernel the native host runs (f32).
// The wasm package: the simd128 build where the browser validates a module
// with a v128 instruction, else the plain build (either may be served alone).
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 0x60, 0, 1, 0x7b, 3, 2, 1, 0,
  10, 22, 1, 20, 0, 0xfd, 0x0c, ...new Array(16).fill(0), 0x0b]); // () -> v128 { v128.const 0 }
async function loadPackage() {
  if (WebAssembly.validate(SIMD_PROBE)) {
    try {
      return await import('./pkg-simd/shoal_wasm.js');
    } catch (e) {
      console.log(`wasm-simd package unavailable (${e}); using the plain build`);
    }
  }
  return import('./pkg/shoal_wasm.js');
}
const { default: init, Classifier, EmbeddingTable, LangId, logBesselI, logBesselIF32Twin, logBesselWgsl, simdEnabled, tfliteWgsl } =
  await loadPackage();

const LN_F64_MAX = Math.log(Number.MAX_VALUE); // 709.78
const N = 512;

async function openGpu() {
  if (!('gpu' in navigator)) return { why: 'navigator.gpu is missing' };
  try {
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) return { why: 'no WebGPU adapter' };
    const device = await adapter.requestDevice();
    const module = device.createShaderModule({ code: logBesselWgsl() });
    const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'log_bessel_i' } });
    const info = adapter.info || {};
    return { device, pipeline, name: [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'adapter' };
  } catch (e) {
    return { why: String(e) };
  }
}

async function gpuLogBesselI(gpu, v, x) {
  const { device, pipeline } = gpu;
  const n = v.length;
  const mk = (data, usage) => {
    const b = device.createBuffer({ size: n * 4, usage, mappedAtCreation: true });
    new Float32Array(b.getMappedRange()).set(data);
    b.unmap();
    return b;
  };
  const vb = mk(Float32Array.from(v), GPUBufferUsage.STORAGE);
  const xb = mk(Float32Array.from(x), GPUBufferUsage.STORAGE);
  const ob = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  const rb = device.createBuffer({ size: n * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const bind = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [vb, xb, ob].map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bind);
  pass.dispatchWorkgroups(Math.ceil(n / 64));
  pass.end();
  enc.copyBufferToBuffer(ob, 0, rb, 0, n * 4);
  device.queue.submit([enc.finish()]);
  await rb.mapAsync(GPUMapMode.READ);
  const out = Float64Array.from(new Float32Array(rb.getMappedRange()));
  rb.unmap();
  return out;
}

// A quantized TFLite model on WebGPU: the launches lowered by the wasm core
// (`Classifier.lowered()`) run the same WGSL file as the native host over one
// resident arena of u32 values (see shoal_core::tflite::lower).
function gpuModel(device, classifier) {
  const l = classifier.lowered();
  const module = device.createShaderModule({ code: tfliteWgsl() });
  const layout = device.createBindGroupLayout({
    entries: [
      { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } },
      { binding: 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } },
      { binding: 2, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
    ],
  });
  const plLayout = device.createPipelineLayout({ bindGroupLayouts: [layout] });
  const pipelines = new Map();
  const pipelineOf = (entryPoint) => {
    if (!pipelines.has(entryPoint)) {
      pipelines.set(entryPoint, device.createComputePipeline({ layout: plLayout, compute: { module, entryPoint } }));
    }
    return pipelines.get(entryPoint);
  };
  const init = (data, usage) => {
    const b = device.createBuffer({ size: Math.max(4, data.byteLength), usage, mappedAtCreation: true });
    new data.constructor(b.getMappedRange()).set(data);
    b.unmap();
    return b;
  };
  const arena = device.createBuffer({ size: 4 * l.arenaLen, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC });
  const consts = init(l.consts.length ? l.consts : new Uint32Array(1), GPUBufferUsage.STORAGE);
  const maxDim = device.limits.maxComputeWorkgroupsPerDimension;
  const launches = l.entryPoints.map((entry, k) => {
    const groups = Math.max(1, Math.ceil(l.threads[k] / 64));
    const gx = Math.min(groups, maxDim), gy = Math.ceil(groups / gx);
    const params = l.params.slice(32 * k, 32 * k + 32);
    params[29] = gx * 64; // threads per dispatch row (SLOT_ROW)
    const bind = device.createBindGroup({
      layout,
      entries: [arena, consts, init(params, GPUBufferUsage.UNIFORM)].map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    return { pipeline: pipelineOf(entry), bind, gx, gy };
  });
  return async (input) => {
    device.queue.writeBuffer(arena, 4 * l.input.offset, Uint32Array.from(input, (v) => v ^ l.input.flip));
    const rb = device.createBuffer({ size: 4 * l.output.len, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    for (const s of launches) {
      pass.setPipeline(s.pipeline);
      pass.setBindGroup(0, s.bind);
      pass.dispatchWorkgroups(s.gx, s.gy);
    }
    pass.end();
    enc.copyBufferToBuffer(arena, 4 * l.output.offset, rb, 0, 4 * l.output.len);
    device.queue.submit([enc.finish()]);
    await rb.mapAsync(GPUMapMode.READ);
    // uint8 outputs one per word; float32 (DEQUANTIZE) outputs as their bytes.
    const raw = l.output.float
      ? new Uint8Array(rb.getMappedRange().slice(0))
      : Uint8Array.from(new Uint32Array(rb.getMappedRange()), (v) => v ^ l.output.flip);
    rb.unmap();
    rb.destroy();
    return raw;
  };
}

function draw(canvas, xs, series, order) {
  const ctx = canvas.getContext('2d');
  const W = canvas.width, H = canvas.height, L = 60, B = 30;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, W, H);
  const all = series.flatMap((s) => Array.from(s.y)).filter(Number.isFinite).concat([LN_F64_MAX]);
  const ymin = Math.min(...all), ymax = Math.max(...all);
  const lx0 = Math.log10(xs[0]), lx1 = Math.log10(xs[xs.length - 1]);
  const px = (x) => L + ((Math.log10(x) - lx0) / (lx1 - lx0 || 1)) * (W - L - 10);
  const py = (y) => H - B - ((y - ymin) / (ymax - ymin || 1)) * (H - B - 10);
  ctx.strokeStyle = '#888';
  ctx.beginPath(); ctx.moveTo(L, 5); ctx.lineTo(L, H - B); ctx.lineTo(W - 5, H - B); ctx.stroke();
  ctx.fillStyle = '#333';
  ctx.font = '12px sans-serif';
  ctx.fillText(ymax.toPrecision(4), 4, 15);
  ctx.fillText(ymin.toPrecision(4), 4, H - B);
  ctx.fillText(`x = ${xs[0]}`, L, H - 8);
  ctx.fillText(`${xs[xs.length - 1]}`, W - 60, H - 8);
  ctx.fillText(`v = ${order}`, W / 2, H - 8);
  ctx.strokeStyle = '#c80000';
  ctx.lineWidth = 3;
  ctx.setLineDash([12, 6]);
  ctx.beginPath(); ctx.moveTo(L, py(LN_F64_MAX)); ctx.lineTo(W - 5, py(LN_F64_MAX)); ctx.stroke();
  ctx.setLineDash([]);
  for (const s of series) {
    if (s.markers) {
      // Square markers every 16th point, so both series stay visible where they agree.
      ctx.fillStyle = s.color;
      s.y.forEach((y, i) => { if (i % 16 === 8) ctx.fillRect(Math.round(px(xs[i])) - 3, Math.round(py(y)) - 3, 7, 7); });
      continue;
    }
    ctx.strokeStyle = s.color;
    ctx.lineWidth = s.width;
    ctx.beginPath();
    s.y.forEach((y, i) => (i ? ctx.lineTo(px(xs[i]), py(y)) : ctx.moveTo(px(xs[i]), py(y))));
    ctx.stroke();
  }
  ctx.lineWidth = 1;
}

async function pixelsOf(blob) {
  const bmp = await createImageBitmap(blob);
  const canvas = document.createElement('canvas');
  canvas.width = bmp.width;
  canvas.height = bmp.height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(bmp, 0, 0);
  return ctx.getImageData(0, 0, bmp.width, bmp.height);
}

// Classifies `imageBlob` with the model bytes, on WebGPU when `gpu` has a
// device and the model is a quantized TFLite one, else in wasm; renders and
// returns the result.
async function classifyBlobs(modelBytes, labelsText, imageBlob, gpu, cpuName) {
  const classifier = new Classifier(modelBytes);
  if (labelsText) classifier.setLabels(labelsText);
  const img = await pixelsOf(imageBlob);
  let out, ms, backendName = cpuName;
  if (gpu.device && classifier.gpuCapable) {
    const run = gpuModel(gpu.device, classifier);
    const input = classifier.input(img.data, img.width, img.height);
    out = classifier.fromRaw(await run(input)); // first run compiles the pipelines
    const t0 = performance.now();
    out = classifier.fromRaw(await run(input));
    ms = performance.now() - t0;
    backendName = 'WebGPU';
  } else {
    const t0 = performance.now();
    out = classifier.classify(img.data, img.width, img.height);
    ms = performance.now() - t0;
  }
  // Labels, catalogue entries and uncertainty come with the result (wasm core).
  const top = out.top;
  const margin = out.margin;
  const el = document.getElementById('classify-result');
  el.innerHTML = '';
  for (const t of top) {
    const row = document.createElement('div');
    row.className = 'bar-row';
    const name = document.createElement('span');
    name.className = 'bar-label';
    name.textContent = `${t.label.split(',')[0]} ${(100 * t.score).toFixed(1)}%`;
    const bar = document.createElement('span');
    bar.className = 'bar';
    bar.style.width = `${Math.max(2, 300 * t.score)}px`;
    row.append(name, bar);
    el.append(row);
  }
  const best = top[0].catalog;
  if (best) {
    const card = document.createElement('div');
    card.className = 'card' + (/protected|Appendix I\b|Critically/.test(best.conservation) ? ' protected' : '');
    card.textContent = `${best.common} (${best.scientific}). Commonly eaten: ${best.edible}. ${best.conservation}.`;
    el.append(card);
  }
  const info = document.createElement('p');
  info.textContent = `uncertainty: margin ${margin.toFixed(3)} (1 = certain), entropy ${out.entropy.toFixed(3)} (0 = certain); backend ${backendName}; ${ms.toFixed(1)} ms`;
  el.append(info);
  if (out.ood) {
    const o = document.createElement('p');
    o.textContent = `out-of-distribution: vMF log-density ${out.ood.logDensity.toFixed(1)} nats ` +
      (out.ood.unusual ? '(UNUSUAL input: unlike the photos the model knows)' : '(like a photo the model knows)');
    el.append(o);
  }
  const result = { top, raw: Array.from(out.raw), margin, entropy: out.entropy, ood: out.ood || null, ms, backend: backendName };
  window.shoalClassifyResult = result;
  el.dataset.done = '1';
  return result;
}

async function main() {
  await init();
  // For automation: the wasm classes themselves.
  window.shoalWasm = { Classifier, EmbeddingTable, LangId };
  const cpuBackend = simdEnabled() ? 'wasm-simd' : 'wasm';
  const gpu = await openGpu();
  let builtInCache = null;
  const builtIn = async () => {
    if (!builtInCache) {
      const get = async (u) => {
        const r = await fetch(u);
        if (!r.ok) throw new Error(`${u}: HTTP ${r.status}`);
        return r;
      };
      builtInCache = [
        new Uint8Array(await (await get('models/efficientnet-lite0.shm')).arrayBuffer()),
        await (await get('models/imagenet-labels.txt')).text(),
      ];
    }
    return builtInCache;
  };
  // Test and automation hook: classify files given by URL (no model URL:
  // the built-in model).
  window.shoalClassifyBuiltIn = async (imageUrl) => {
    const [[m, l], i] = await Promise.all([builtIn(), fetch(imageUrl).then((r) => r.blob())]);
    return classifyBlobs(m, l, i, gpu, cpuBackend);
  };
  window.shoalClassifyUrls = async (modelUrl, imageUrl, labelsUrl) => {
    const [m, i, l] = await Promise.all([
      fetch(modelUrl).then((r) => r.arrayBuffer()),
      fetch(imageUrl).then((r) => r.blob()),
      labelsUrl ? fetch(labelsUrl).then((r) => r.text()) : Promise.resolve(''),
    ]);
    return classifyBlobs(new Uint8Array(m), l, i, gpu, cpuBackend);
  };
  // Classifies a photo with the picked model (or the built-in one).
  const classifyPicked = async (image) => {
    const el = document.getElementById('classify-result');
    try {
      const model = document.getElementById('model-file').files[0];
      const labels = document.getElementById('labels-file').files[0];
      if (!image) throw new Error('pick or drop a photo');
      // Without a model file: the built-in EfficientNet-Lite0 (served with the page).
      const [modelBytes, labelText] = model
        ? [new Uint8Array(await model.arrayBuffer()), labels ? await labels.text() : '']
        : await builtIn();
      await classifyBlobs(modelBytes, labelText, image, gpu, cpuBackend);
    } catch (err) {
      el.textContent = `error: ${err.message || err}`;
    }
  };
  document.getElementById('classify-form').addEventListener('submit', (e) => {
    e.preventDefault();
    classifyPicked(document.getElementById('image-file').files[0]);
  });
  // A photo dropped anywhere on the panel.
  const panel = document.getElementById('classify-panel');
  panel.addEventListener('dragover', (e) => { e.preventDefault(); panel.classList.add('dropping'); });
  panel.addEventListener('dragleave', () => panel.classList.remove('dropping'));
  panel.addEventListener('drop', (e) => {
    e.preventDefault();
    panel.classList.remove('dropping');
    const file = [...(e.dataTransfer?.files || [])].find((f) => f.type.startsWith('image/'));
    classifyPicked(file);
  });
  // Language identification: the model comes from `shoal serve` (built in).
  let langid = null;
  const langidEl = document.getElementById('langid-result');
  window.shoalDetect = async (text) => {
    if (!langid) {
      const r = await fetch('models/lid.176.ftz');
      if (!r.ok) throw new Error(`models/lid.176.ftz: HTTP ${r.status}`);
      langid = new LangId(new Uint8Array(await r.arrayBuffer()));
    }
    const t0 = performance.now();
    const top = langid.detect(text, 3);
    const ms = performance.now() - t0;
    langidEl.textContent = top.map((p) => `${p.label} ${(100 * p.prob).toFixed(1)}%`).join(' · ') + ` (${ms.toFixed(2)} ms)`;
    langidEl.dataset.done = '1';
    return { top, ms };
  };
  document.getElementById('langid-form').addEventListener('submit', (e) => {
    e.preventDefault();
    window.shoalDetect(document.getElementById('langid-text').value)
      .catch((err) => { langidEl.textContent = `error: ${err.message || err}`; });
  });
  const backendEl = document.getElementById('backend');
  const status = document.getElementById('bessel-status');
  const cpuName = simdEnabled() ? 'wasm-simd' : 'wasm';
  const backend = gpu.device ? 'WebGPU' : cpuName;
  backendEl.textContent = gpu.device
    ? `Backend: WebGPU (${gpu.name}); f64 reference on ${cpuName}`
    : `Backend: ${cpuName} (WebGPU unavailable: ${gpu.why})`;
  backendEl.dataset.backend = backend;

  async function plot() {
    const order = Number(document.getElementById('order').value);
    const xmin = Math.max(Number(document.getElementById('xmin').value), 1e-300);
    const xmax = Math.max(Number(document.getElementById('xmax').value), xmin * 1.0001);
    const xs = Array.from({ length: N }, (_, i) => xmin * Math.pow(xmax / xmin, i / (N - 1)));
    const v = new Float64Array(N).fill(order);
    const x = Float64Array.from(xs);
    const t0 = performance.now();
    const f64 = logBesselI(v, x);
    const tWasm = performance.now() - t0;
    const series = [{ y: f64, color: '#0050c8', width: 3 }];
    const result = { backend, order, n: N, wasmMs: tWasm, overflowAt: null };
    const i = Array.from(f64).findIndex((y) => y > LN_F64_MAX);
    result.overflowAt = i >= 0 ? xs[i] : null;
    if (gpu.device) {
      const t1 = performance.now();
      const g = await gpuLogBesselI(gpu, v, x);
      result.gpuMs = performance.now() - t1;
      const twin = logBesselIF32Twin(v, x);
      let worst = 0;
      g.forEach((y, j) => {
        const u = Math.abs(y - twin[j]) / (2 ** -23 * (1 + Math.abs(twin[j]) + order + xs[j]));
        worst = Math.max(worst, u);
      });
      result.gpuVsTwinUnits = worst;
      series.push({ y: g, color: '#e07000', markers: true });
    }
    draw(document.getElementById('plot'), xs, series, order);
    status.textContent =
      `${N} points: wasm f64 ${tWasm.toFixed(2)} ms` +
      (result.gpuMs !== undefined ? `, WebGPU f32 ${result.gpuMs.toFixed(2)} ms (max ${result.gpuVsTwinUnits.toFixed(2)} f32 units from the CPU twin)` : '') +
      (result.overflowAt !== null ? `; I_v(x) exceeds float64 from x ≈ ${result.overflowAt.toPrecision(4)}` : '; I_v(x) fits in float64 on this range');
    window.shoalResult = result;
    status.dataset.done = '1';
  }
  document.getElementById('bessel-form').addEventListener('submit', (e) => {
    e.preventDefault();
    plot().catch((err) => { status.textContent = `error: ${err}`; });
  });
  await plot();
}

main().catch((e) => {
  document.getElementById('backend').textContent = `failed to start: ${e}`;
});

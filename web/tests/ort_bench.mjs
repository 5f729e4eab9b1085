// Benchmark (not a test): the built-in EfficientNet-Lite0 in the page, Shoal
// (wasm and wasm-simd builds) against onnxruntime-web (wasm, SIMD, one
// thread) on the same network exported to ONNX (tools/effnet_lite0.py onnx),
// same input, same headless Chromium run. Prints median latencies, their
// ratio and whether the top-1 classes agree. Run through web/tests/ort_bench.sh.
import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from './serve.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [ortDist, onnxPath, simdPkg] = process.argv.slice(2);
const REPS = 7;

async function measure(pkgDir) {
  const mounts = {
    '/models/': join(root, '..', 'host-gpu', 'models'),
    '/ort/': ortDist,
    '/gen/': dirname(onnxPath),
  };
  // The plain run serves the plain build under both package paths.
  if (pkgDir) mounts['/pkg-simd/'] = pkgDir;
  const server = await serve(root, 0, mounts);
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: ['--disable-gpu'] });
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${server.address().port}/index.html`);
    await page.waitForSelector('#bessel-status[data-done="1"]', { timeout: 60000 });
    return await page.evaluate(async ({ onnx, reps }) => {
      const median = (a) => a.slice().sort((x, y) => x - y)[a.length >> 1];
      const { Classifier } = window.shoalWasm;
      const shm = new Uint8Array(await (await fetch('/models/efficientnet-lite0.shm')).arrayBuffer());
      const c = new Classifier(shm);
      const blob = await (await fetch('/images/parrot.jpg')).blob();
      const bmp = await createImageBitmap(blob);
      const canvas = new OffscreenCanvas(bmp.width, bmp.height);
      const ctx = canvas.getContext('2d');
      ctx.drawImage(bmp, 0, 0);
      const px = ctx.getImageData(0, 0, bmp.width, bmp.height).data;
      const input = c.input(px, bmp.width, bmp.height); // 224 x 224 x 3, the model's resize
      const argmax = (a) => a.reduce((b, v, i) => (v > a[b] ? i : b), 0);
      let shoalTop = -1;
      const shoalMs = [];
      for (let k = 0; k <= reps; k++) {
        const t0 = performance.now();
        const out = c.classify(input, 224, 224);
        if (k) shoalMs.push(performance.now() - t0);
        shoalTop = argmax(out.scores);
      }
      const ort = await import('/ort/ort.wasm.min.mjs');
      ort.env.wasm.numThreads = 1;
      ort.env.wasm.wasmPaths = '/ort/';
      const sess = await ort.InferenceSession.create(await (await fetch(onnx)).arrayBuffer(), { executionProviders: ['wasm'] });
      const feeds = { image: new ort.Tensor('uint8', input, [1, 224, 224, 3]) };
      let ortTop = -1;
      const ortMs = [];
      for (let k = 0; k <= reps; k++) {
        const t0 = performance.now();
        const out = await sess.run(feeds);
        if (k) ortMs.push(performance.now() - t0);
        ortTop = argmax(out.logits.data);
      }
      return { simd: window.shoalWasmSimd ?? null, shoalMs: median(shoalMs), ortMs: median(ortMs), shoalTop, ortTop };
    }, { onnx: '/gen/' + onnxPath.split('/').pop(), reps: REPS });
  } finally {
    await browser.close();
    server.close();
  }
}

for (const [name, pkg] of [['wasm', join(root, 'pkg')], ['wasm-simd', simdPkg]]) {
  const r = await measure(pkg);
  console.log(`Shoal ${name}: ${r.shoalMs.toFixed(1)} ms   onnxruntime-web 1.30 (wasm, SIMD, 1 thread): ${r.ortMs.toFixed(1)} ms   ` +
    `ratio Shoal/ORT ${(r.shoalMs / r.ortMs).toFixed(2)}   top-1 ${r.shoalTop} / ${r.ortTop} (${r.shoalTop === r.ortTop ? 'agree' : 'DIFFER'})`);
}

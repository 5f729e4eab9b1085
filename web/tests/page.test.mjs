// Page tests: load the page in Debian's headless Chromium through
// playwright-core, once with WebGPU (SwiftShader adapter) and once without,
// check the backend each run reports, that WebGPU agrees with the CPU twin of
// the WGSL kernel, and inspect a screenshot of the rendered plot.
import { chromium } from 'playwright-core';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from './serve.mjs';
import { decodePng, countColour } from './png.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'test-results');
mkdirSync(outDir, { recursive: true });
const BASE_ARGS = ['--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-gpu'];
let passed = 0, failed = 0;

function check(cond, msg) {
  if (cond) { passed++; console.log(`ok   ${msg}`); } else { failed++; console.log(`FAIL ${msg}`); }
}

async function run(name, args, expectGpu, url) {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(url);
    await page.waitForSelector('#bessel-status[data-done="1"]', { timeout: 60000 });
    const result = await page.evaluate(() => window.shoalResult);
    console.log(`${name}: ${JSON.stringify(result)}`);
    check(errors.length === 0, `${name}: no page errors ${errors.join('; ')}`);
    check(expectGpu ? result.backend === 'WebGPU' : result.backend.startsWith('wasm'), `${name}: backend ${result.backend}`);
    check(result.overflowAt !== null && result.overflowAt > 500 && result.overflowAt < 2000,
      `${name}: I_50(x) leaves float64 inside the plotted range (x ≈ ${result.overflowAt})`);
    if (expectGpu) check(result.gpuVsTwinUnits <= 2, `${name}: WebGPU within 2 f32 units of the CPU twin (${result.gpuVsTwinUnits})`);
    const shot = join(outDir, `page-${name}.png`);
    const png = await page.locator('#plot').screenshot({ path: shot });
    const img = decodePng(png);
    const blue = countColour(img, [0, 80, 200]);
    const red = countColour(img, [200, 0, 0]);
    const orange = countColour(img, [224, 112, 0]);
    console.log(`${name}: screenshot ${shot}: ${img.width}x${img.height}, curve ${blue} px, limit ${red} px, gpu ${orange} px`);
    check(blue > 500, `${name}: the f64 curve is drawn`);
    check(red > 200, `${name}: the float64 overflow line is drawn`);
    check(expectGpu ? orange > 100 : orange === 0, `${name}: the WebGPU curve is ${expectGpu ? '' : 'not '}drawn`);
    {
      // Language identification in the page equals the native CLI's, value for value.
      const text = 'Der Fang wird morgen früh im Hafen gewogen';
      const r = await page.evaluate((t) => window.shoalDetect(t), text);
      console.log(`${name}: langid ${JSON.stringify(r.top)} (${r.ms.toFixed(2)} ms)`);
      const shoal = join(root, '..', 'target', 'release', 'shoal');
      if (existsSync(shoal)) {
        const native = JSON.parse(execFileSync(shoal, ['langid', '--json', '--top', '3', text]).toString()).predictions;
        check(native.length === r.top.length && native.every((p, i) => p.label === r.top[i].label && Math.fround(p.prob) === Math.fround(r.top[i].prob)),
          `${name}: langid in the page equals the native CLI (${native.map((p) => p.label).join(', ')})`);
      } else {
        check(r.top[0].label === 'de', `${name}: langid says de`);
      }
    }
    {
      // Malformed models and images are exceptions; the same instances then work.
      const r = await page.evaluate(async (m) => {
        const { Classifier, LangId } = window.shoalWasm;
        const errs = [];
        const expectThrow = (f) => { try { f(); errs.push('no error'); } catch (e) { errs.push(String(e.message || e)); } };
        const lid = new Uint8Array(await (await fetch('models/lid.176.ftz')).arrayBuffer());
        for (const bad of [lid.slice(0, 100), new Uint8Array(0), lid.map((b, i) => (i < 4 ? 0 : b))]) expectThrow(() => new LangId(bad));
        const l = new LangId(lid);
        const lang = l.detect('Fische und Netze', 1)[0].label;
        let classes = null;
        if (m) {
          const bytes = new Uint8Array(await (await fetch(`/coral/${m}`)).arrayBuffer());
          for (const bad of [bytes.slice(0, 100), new Uint8Array(0), bytes.map((b, i) => (i >= 4 && i < 8 ? 0x7f : b))]) {
            expectThrow(() => new Classifier(bad));
          }
          const c = new Classifier(bytes);
          expectThrow(() => c.classify(new Uint8Array(5), 2, 2));
          expectThrow(() => c.classify(new Uint8Array(0), 0, 0));
          expectThrow(() => c.classify(new Uint8Array(16), 1 << 20, 1 << 20));
          classes = c.classify(new Uint8Array(64 * 64 * 4).fill(128), 64, 64).raw.length;
        }
        return { errs, lang, classes };
      }, coral ? 'mobilenet_v1_0.25_128_quant.tflite' : null);
      console.log(`${name}: malformed inputs -> ${JSON.stringify(r.errs)}`);
      check(r.errs.length >= 3 && r.errs.every((e) => e !== 'no error'), `${name}: every malformed model or image is an exception (${r.errs.length})`);
      check(r.lang === 'de' && (!coral || r.classes === 1001), `${name}: the same instances work afterwards (${r.lang}, ${r.classes} classes)`);
    }
    if (coral) {
      // Classification in the page equals the native CPU core byte for byte.
      const model = 'mobilenet_v1_0.25_128_quant.tflite';
      const r = await page.evaluate(([m]) => window.shoalClassifyUrls(`/coral/${m}`, '/coral/cat.bmp', '/coral/imagenet_labels.txt'), [model]);
      console.log(`${name}: classify top-1 ${r.top[0].index} ${r.top[0].label} (${r.ms.toFixed(1)} ms, ${r.backend})`);
      check(expectGpu ? r.backend === 'WebGPU' : r.backend.startsWith('wasm'), `${name}: the MobileNet ran on ${r.backend}`);
      const shoal = join(root, '..', 'target', 'release', 'shoal');
      if (existsSync(shoal)) {
        const want = execFileSync(shoal, ['classify', '--model', join(coral, model), '--raw', join(coral, 'cat.bmp')])
          .toString().trim().split('\n').map(Number);
        check(want.length === r.raw.length && want.every((v, i) => v === r.raw[i]),
          `${name}: browser raw output equals the native CLI's (${want.length} values)`);
      } else {
        check(r.top[0].label.startsWith('Egyptian cat'), `${name}: top-1 is Egyptian cat`);
      }
      const card = await page.locator('#classify-result').screenshot({ path: join(outDir, `classify-${name}.png`) });
      const img = decodePng(card);
      check(countColour(img, [0, 80, 200]) > 200, `${name}: the top-5 bars are drawn`);
    }
    {
      // The built-in model (no model file) on the bundled photo: the native
      // CLI's top-1 (the browser decodes the JPEG itself, so scores may
      // differ in the last digits; the class must not).
      const r = await page.evaluate(() => window.shoalClassifyBuiltIn('/images/parrot.jpg'));
      console.log(`${name}: built-in model top-1 ${r.top[0].index} ${r.top[0].label} (${r.ms.toFixed(1)} ms, ${r.backend})`);
      check(r.backend.startsWith('wasm'), `${name}: the built-in .shm model ran in ${r.backend}`);
      check(r.ood && r.ood.logDensity > r.ood.threshold && !r.ood.unusual,
        `${name}: the photo scores as in-distribution (vMF log-density ${r.ood && r.ood.logDensity.toFixed(1)})`);
      check(r.top[0].catalog === null && r.top.length === 5 && r.entropy >= 0 && r.entropy <= 1,
        `${name}: the result carries labels, catalogue entries and the uncertainty (${r.top[0].label}, entropy ${r.entropy.toFixed(3)})`);
      const shoal = join(root, '..', 'target', 'release', 'shoal');
      if (existsSync(shoal)) {
        const native = JSON.parse(execFileSync(shoal, ['classify', '--json', '--top', '1', join(root, 'images', 'parrot.jpg')]).toString());
        check(native.top[0].index === r.top[0].index, `${name}: built-in model top-1 equals the native CLI's (${native.top[0].label})`);
      } else {
        check(/macaw|lorikeet|parrot/i.test(r.top[0].label), `${name}: built-in model sees a parrot`);
      }
      // A bundled sea-life photo with a transparent background (composited
      // over white by the page's wasm and by the CLI): a spiny lobster with
      // its catalogue entry, as the native CLI says.
      const fish = await page.evaluate(() => window.shoalClassifyBuiltIn('/images/lobster.png'));
      console.log(`${name}: built-in model on lobster.png: ${fish.top[0].label} ${fish.top[0].score.toFixed(3)}`);
      check(fish.top[0].index === 123 && fish.top[0].catalog && fish.top[0].catalog.edible === 'yes',
        `${name}: the bundled lobster photo is a spiny lobster with its catalogue entry`);
      if (existsSync(shoal)) {
        const native = JSON.parse(execFileSync(shoal, ['classify', '--json', '--top', '1', join(root, 'images', 'lobster.png')]).toString());
        check(native.top[0].index === fish.top[0].index && Math.abs(native.top[0].score - fish.top[0].score) < 0.02,
          `${name}: lobster top-1 and score equal the native CLI's (${native.top[0].score.toFixed(3)})`);
      }
      // The same photo dropped on the panel.
      await page.evaluate(() => { delete document.getElementById('classify-result').dataset.done; });
      const dt = await page.evaluateHandle(async () => {
        const d = new DataTransfer();
        const b = await (await fetch('/images/parrot.jpg')).blob();
        d.items.add(new File([b], 'parrot.jpg', { type: 'image/jpeg' }));
        return d;
      });
      await page.dispatchEvent('#classify-panel', 'drop', { dataTransfer: dt });
      await page.waitForSelector('#classify-result[data-done="1"]', { timeout: 60000 });
      const dropped = await page.evaluate(() => window.shoalClassifyResult);
      check(dropped.top[0].index === r.top[0].index, `${name}: a dropped photo is classified (${dropped.top[0].label})`);
    }
  } finally {
    await browser.close();
  }
}

const sharedDir = process.env.SHOAL_SHARED || join(root, '..', '..', 'shared');
const coral = existsSync(join(sharedDir, 'models', 'coral')) ? join(sharedDir, 'models', 'coral') : null;
if (!coral) console.log('classification checks SKIPPED: no ../shared/models/coral');
const mounts = { '/models/': join(root, '..', 'host-gpu', 'models') };
if (coral) mounts['/coral/'] = coral;
const server = await serve(root, 0, mounts);
const url = `http://127.0.0.1:${server.address().port}/index.html`;
try {
  await run('webgpu', [...BASE_ARGS, '--enable-unsafe-webgpu'], true, url);
  await run('no-webgpu', BASE_ARGS, false, url);
} catch (e) {
  failed++;
  console.log(`FAIL page tests crashed: ${e.stack || e}`);
} finally {
  server.close();
}
writeFileSync(join(outDir, 'summary.json'), JSON.stringify({ passed, failed }));
console.log(`page tests: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

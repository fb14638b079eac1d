// Golden outputs of UpscalerJS models from TensorFlow.js itself (run once; not in CI).
//
//   mkdir /tmp/tfjs && cd /tmp/tfjs && npm install @tensorflow/tfjs
//   NODE_PATH=/tmp/tfjs/node_modules node scripts/zoo/tfjs_goldens.js OUT.json NAME=PACKAGE_DIR:SCALE ...
//
// PACKAGE_DIR is an unpacked @upscalerjs/esrgan-* package (npm pack + tar xzf). The package's own
// model definition is loaded, so its custom layers (MultiplyBeta, PixelShuffle) are registered by
// its own setup(tf), exactly as UpscalerJS does. Input: a seeded 1x12x12x3 tensor in the model's
// inputRange; output: the model's raw prediction (before UpscalerJS's clipping).
const tf = require('@tensorflow/tfjs');
const fs = require('fs');
const path = require('path');

function rng(seed) { // mulberry32
  return () => {
    seed |= 0; seed = (seed + 0x6D2B79F5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function main() {
  const [out, ...specs] = process.argv.slice(2);
  await tf.setBackend('cpu');
  const result = { tfjs_version: tf.version.tfjs, models: {} };
  let k = 0;
  for (const spec of specs) {
    const [name, rest] = spec.split('=');
    const [dir, scale] = rest.split(':');
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json')));
    const sub = pkg.exports[`./${scale}x`].require;
    const def = require(path.resolve(dir, sub)).default || require(path.resolve(dir, sub));
    if (def.setup) def.setup(tf);
    const mdir = path.join(dir, `models/x${scale}`);
    const mj = JSON.parse(fs.readFileSync(path.join(mdir, 'model.json')));
    const weightSpecs = []; const buffers = [];
    for (const g of mj.weightsManifest) {
      weightSpecs.push(...g.weights);
      for (const p of g.paths) buffers.push(fs.readFileSync(path.join(mdir, p)));
    }
    const all = Buffer.concat(buffers);
    const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
    const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: mj.modelTopology, weightSpecs, weightData }));
    const r = rng(2000 + k++);
    const hi = def.inputRange[1];
    const input = Array.from({ length: 12 * 12 * 3 }, () => r() * hi);
    const t0 = Date.now();
    const y = model.predict(tf.tensor4d(input, [1, 12, 12, 3]));
    const output = Array.from(await y.data());
    result.models[name] = { package: `${pkg.name}@${pkg.version}`, scale: Number(scale), inputRange: def.inputRange,
      outputRange: def.outputRange, input, input_shape: [1, 12, 12, 3], output, output_shape: y.shape };
    console.log(name, y.shape, `${Date.now() - t0} ms`);
  }
  fs.writeFileSync(out, JSON.stringify(result));
}
main();

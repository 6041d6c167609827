// Runs an ONNX model with ONNX Runtime for Node.js (onnxruntime-node) on CPU.
// The last two arguments: the onnxruntime-node package folder, the model file. stdin: JSON
// {"dims": [...], "data": [...]} for the model's first input. stdout: JSON
// {"dims": [...], "data": [...]} of its first output.
const [pkg, model] = process.argv.slice(-2);
const ort = require(pkg);
let input = '';
process.stdin.on('data', (c) => { input += c; });
process.stdin.on('end', async () => {
  try {
    const req = JSON.parse(input);
    const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'] });
    const feeds = {};
    feeds[session.inputNames[0]] = new ort.Tensor('float32', Float32Array.from(req.data), req.dims);
    const out = (await session.run(feeds))[session.outputNames[0]];
    process.stdout.write(JSON.stringify({ dims: out.dims.map(Number), data: Array.from(out.data) }));
  } catch (e) {
    process.stderr.write(String(e && e.stack || e) + '\n');
    process.exit(1);
  }
});

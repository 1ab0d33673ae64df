// Times the aauth-verify-loop wasm module (no imports) in Node, like src/main.rs does natively:
//   node tests/bench/wasm-node.mjs path/to/aauth_verify_loop.wasm [iters]
// Prints {"node_us": mean microseconds per verification, best of five batches}.
import { readFileSync } from 'node:fs';

const [file, itersArg] = process.argv.slice(2);
const iters = Number(itersArg ?? 2000);
const { instance } = await WebAssembly.instantiate(readFileSync(file), {});
const { aauth_setup: setup, aauth_verify_loop: loop } = instance.exports;
if (setup() !== 1) throw new Error('fixture');
if (loop(Math.floor(iters / 10)) !== Math.floor(iters / 10)) throw new Error('warm-up');
let best = Infinity;
for (let i = 0; i < 5; i++) {
  const t0 = performance.now();
  if (loop(iters) !== iters) throw new Error('verify');
  best = Math.min(best, ((performance.now() - t0) * 1000) / iters);
}
console.log(JSON.stringify({ node_us: Number(best.toFixed(2)), node: process.version }));

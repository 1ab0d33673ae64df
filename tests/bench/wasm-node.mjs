// Times the aauth-verify-loop wasm module (no imports) in Node, like src/main.rs does natively:
//   node tests/bench/wasm-node.mjs path/to/aauth_verify_loop.wasm [iters]
// Prints {"node_us": …, "node_raw_us": …, "node": version}: mean microseconds per full
// verification and per pair of raw Ed25519 verifications, best of five batches each.
import { readFileSync } from 'node:fs';

const [file, itersArg] = process.argv.slice(2);
const iters = Number(itersArg ?? 2000);
const { instance } = await WebAssembly.instantiate(readFileSync(file), {});
const { aauth_setup: setup, aauth_verify_loop: full, aauth_raw_loop: raw } = instance.exports;
if (setup() !== 1) throw new Error('fixture');

function bestOfFive(loop) {
  if (loop(Math.floor(iters / 10)) !== Math.floor(iters / 10)) throw new Error('warm-up');
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    if (loop(iters) !== iters) throw new Error('loop');
    best = Math.min(best, ((performance.now() - t0) * 1000) / iters);
  }
  return Number(best.toFixed(2));
}

const nodeUs = bestOfFive(full);
const nodeRawUs = bestOfFive(raw);
console.log(JSON.stringify({ node_us: nodeUs, node_raw_us: nodeRawUs, node: process.version }));
